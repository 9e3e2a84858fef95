/**
 * A harvest dataset as training data (docs/harvest.md#retraining): per harvested study, the analysed series as a raw
 * volume in the layout of `lens synth --format raw` (volume.i16, volume.json: what models/training reads) and a
 * truth.json whose lesions are the positives and whose extra lists say what to push down and what to leave alone:
 *
 *   lesions        the labels already in the archive (readers' SRs) and the harvested lesions (`harvest` says which)
 *   hardNegatives  candidates a reader rejected, unmatched ones of completely annotated studies, those below the
 *                  low threshold: the hard-negative suppression loss of models/training/train_harvest.py
 *   uncertain      candidates between the thresholds: neither positive nor background in training
 *
 * The series is read again through the study source the harvest read (a folder, or the PACS of the config): the
 * harvest dataset holds no pixels. Written study by study, truth.json last (atomically): a study whose truth.json
 * names the same harvest record is skipped, so an interrupted export resumes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SelectionRules } from '../config/schema';
import type { BoxLPS } from '../detect/findings';
import { selectSeries } from '../dicom/select-series';
import type { Volume } from '../dicom/volume';
import { LensError } from '../errors';
import { selectStage } from '../pipeline/select-stage';
import { fetchStage } from '../pipeline/study-pipeline';
import type { StudySource } from '../source/study-source';
import { TRUTH_BOX_CONVENTION, writeVolumeRaw } from '../synth/write-raw';
import { writeAtomically, type HarvestDataset, type HarvestRecord, type RecordedCandidate } from './dataset';

/** A label's lesion type is unknown to a reader's SR: the type of the candidate that matched it, else this one. */
export const UNTYPED_LABEL = 'soft_tissue';

export interface TrainingBox {
  type: string;
  bboxLPS: BoxLPS;
  /** The key slice's box, inclusive pixel indices of the source image (as lens synth's truth). */
  keySliceBoxPx?: [number, number, number, number];
  harvest: 'label' | 'harvested' | 'hard-negative' | 'uncertain';
  score?: number;
  why?: string;
}

/** The shape of a TruthFile (docs/contracts.md#truth) with the harvest's extra lists. */
export interface TrainingTruth {
  source: string;
  boxConvention: string;
  /** The record this study was exported from: an export of the same record is skipped. */
  harvest: { dataset: string; runId: string; harvestedAt: string; modelVersions: HarvestRecord['modelVersions']; completelyAnnotated: boolean };
  studies: [{ studyInstanceUID: string; seriesInstanceUIDs: string[]; lesions: TrainingBox[]; hardNegatives: TrainingBox[]; uncertain: TrainingBox[] }];
}

export class TrainingSetError extends LensError {
  constructor(message: string) {
    super(message, 'harvest-training-set');
  }
}

export interface TrainingSetCounts {
  studies: number;
  written: number;
  unchanged: number;
  notAnalysed: number;
  positives: number;
  hardNegatives: number;
}

/** The positives, hard negatives and uncertain candidates of a record, as training boxes. */
export function trainingTruth(record: HarvestRecord, datasetDir: string): TrainingTruth {
  const series = record.sourceSeries?.seriesInstanceUID;
  if (!series) throw new TrainingSetError(`record of ${record.studyInstanceUID} has no analysed series`);
  const matchedType = new Map<number, string>();
  for (const c of record.matched) if (c.label !== undefined && !matchedType.has(c.label)) matchedType.set(c.label, c.type);
  const labels: TrainingBox[] = [];
  record.existingLabels.forEach((l, i) => {
    if (!l.bboxLPS) return; // not on a slice of the analysed series: it matches nothing, nothing to learn from
    labels.push({ type: matchedType.get(i) ?? UNTYPED_LABEL, bboxLPS: l.bboxLPS, ...(l.keySlice.sliceIndex !== undefined ? { keySliceBoxPx: l.keySlice.box } : {}), harvest: 'label' });
  });
  const candidate = (c: RecordedCandidate, harvest: TrainingBox['harvest']): TrainingBox => ({
    type: c.type, bboxLPS: c.bboxLPS, keySliceBoxPx: c.keySlice.box, harvest, score: c.score, ...(c.why ? { why: c.why } : {}),
  });
  return {
    source: `lens-pacs harvest ${path.resolve(datasetDir)}`,
    boxConvention: TRUTH_BOX_CONVENTION,
    harvest: { dataset: path.resolve(datasetDir), runId: record.runId, harvestedAt: record.harvestedAt, modelVersions: record.modelVersions, completelyAnnotated: record.completelyAnnotated.value },
    studies: [{
      studyInstanceUID: record.studyInstanceUID,
      seriesInstanceUIDs: [series],
      lesions: [...labels, ...record.harvested.map((c) => candidate(c, 'harvested'))],
      hardNegatives: record.hardNegatives.map((c) => candidate(c, 'hard-negative')),
      uncertain: record.uncertain.map((c) => candidate(c, 'uncertain')),
    }],
  };
}

/**
 * Writes the training set of every analysed study of the dataset into `out` (one folder per study).
 * `sourceFor` gives the study source a record was harvested from (its `source`).
 */
export async function exportTrainingSet(
  dataset: HarvestDataset,
  out: string,
  rules: SelectionRules,
  sourceFor: (record: HarvestRecord) => StudySource,
  onStudy?: (studyInstanceUID: string, outcome: string) => void,
): Promise<TrainingSetCounts> {
  const counts: TrainingSetCounts = { studies: 0, written: 0, unchanged: 0, notAnalysed: 0, positives: 0, hardNegatives: 0 };
  for (const record of dataset.records()) {
    counts.studies++;
    if (record.skipped || !record.sourceSeries) {
      counts.notAnalysed++;
      continue;
    }
    const truth = trainingTruth(record, dataset.dir);
    counts.positives += truth.studies[0].lesions.length;
    counts.hardNegatives += truth.studies[0].hardNegatives.length;
    const dir = path.join(out, record.studyInstanceUID.replace(/[^0-9A-Za-z.\-]/g, '_'));
    if (sameExport(path.join(dir, 'truth.json'), truth)) {
      counts.unchanged++;
      onStudy?.(record.studyInstanceUID, 'unchanged');
      continue;
    }
    const volume = await harvestedVolume(record, rules, sourceFor(record));
    fs.rmSync(path.join(dir, 'truth.json'), { force: true });
    writeVolumeRaw(volume, dir);
    writeAtomically(path.join(dir, 'truth.json'), Buffer.from(JSON.stringify(truth, null, 1) + '\n'));
    counts.written++;
    onStudy?.(record.studyInstanceUID, `${truth.studies[0].lesions.length} positives, ${truth.studies[0].hardNegatives.length} hard negatives`);
  }
  return counts;
}

/**
 * The series a record was harvested from, read again through its source (the dataset holds no pixels); a series
 * selected differently now is an error: the archive changed, the study must be harvested again.
 */
export async function harvestedVolume(record: HarvestRecord, rules: SelectionRules, source: StudySource): Promise<Volume> {
  const harvested = record.sourceSeries?.seriesInstanceUID;
  if (!harvested) throw new TrainingSetError(`record of ${record.studyInstanceUID} has no analysed series`);
  const select = selectStage({ modelVersion: 'training-set', rules, source, selectSeries: (s, r) => selectSeries(s, r), findSucceeded: async () => undefined });
  const selected = await select.run({ studyInstanceUID: record.studyInstanceUID, force: true });
  if (selected.series.seriesInstanceUID !== harvested)
    throw new TrainingSetError(
      `study ${record.studyInstanceUID}: the series selected now (${selected.series.seriesInstanceUID}) is not the harvested one (${harvested}): the archive changed; harvest the study again`,
    );
  return (await fetchStage(source).run(selected)).volume;
}

function sameExport(file: string, truth: TrainingTruth): boolean {
  try {
    const t = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainingTruth;
    return t.harvest?.runId === truth.harvest.runId && t.harvest.harvestedAt === truth.harvest.harvestedAt && t.harvest.dataset === truth.harvest.dataset;
  } catch {
    return false;
  }
}
