/**
 * A harvest dataset as training data for the proposal classifier (docs/harvest.md#the-proposal-classifier-of-the-archive):
 * the Lesion Harvester's classifier learns the archive's own look from the archive's own labels, not from the
 * generator or the real CT the shipped one saw.
 *
 *   train/        studies that are not completely annotated: candidates matching a reader's label are lesions (1);
 *                 hard negatives below the low threshold or rejected by a reader are not (0); harvested and
 *                 uncertain candidates are left out (nobody knows them: that is what the harvest is asking).
 *                 With `unlabeled: 'negative'` every unmatched candidate is a 0 instead (positive-unlabeled
 *                 learning, Elkan & Noto 2008: when the readers' choice of what to mark does not depend on the
 *                 candidate's look, a classifier of labeled versus unlabeled ranks candidates as one of lesion versus
 *                 not; it must then score another archive, or other studies, than the ones it learned from).
 *   calibration/  completely annotated studies: matched candidates 1, every other 0. Never trained on: the training's
 *                 checkpoint choice (validation AUC) and the harvest's thresholds are chosen on these.
 *
 * Candidates are cut from the analysed series read again through the source the harvest read (harvestedVolume), as
 * the runtime cuts them (proposal-crops.ts), with the detector score the runtime passes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SelectionRules } from '../config/schema';
import { ClassifierDataWriter, type ClassifierLabel } from '../detect/classifier-data-writer';
import { DEFAULT_CROP_SPEC, type CropSpec } from '../detect/proposal-crops';
import type { StudySource } from '../source/study-source';
import type { HarvestDataset, HarvestRecord, RecordedCandidate } from './dataset';
import { harvestedVolume, TrainingSetError } from './training-set';

export type ClassifierSetPart = 'train' | 'calibration';

export interface ClassifierSample {
  candidate: RecordedCandidate;
  label: ClassifierLabel;
  why: string;
}

/** What the unmatched candidates of partly annotated studies above the low threshold are: left out, or negatives. */
export type UnlabeledCandidates = 'left-out' | 'negative';

/** Which part a record's candidates go to, and each one's label; candidates nobody knows are not samples unless `unlabeled` makes them negatives. */
export function classifierSamples(record: HarvestRecord, unlabeled: UnlabeledCandidates = 'left-out'): { part: ClassifierSetPart; samples: ClassifierSample[] } {
  const lesion = (candidate: RecordedCandidate): ClassifierSample => ({ candidate, label: 1, why: 'reader-label' });
  if (record.completelyAnnotated.value) {
    const others = [...record.harvested, ...record.uncertain, ...record.hardNegatives];
    return { part: 'calibration', samples: [...record.matched.map(lesion), ...others.map((candidate) => ({ candidate, label: 0 as const, why: 'complete-study' }))] };
  }
  const negatives: ClassifierSample[] = record.hardNegatives
    .filter((c) => c.why === 'below-low' || c.why === 'rejected-by-reader')
    .map((candidate) => ({ candidate, label: 0 as const, why: candidate.why! }));
  if (unlabeled === 'negative')
    negatives.push(...[...record.harvested, ...record.uncertain].map((candidate) => ({ candidate, label: 0 as const, why: 'unlabeled' })));
  return { part: 'train', samples: [...record.matched.map(lesion), ...negatives] };
}

export interface ClassifierSetSummary {
  dataset: string;
  unlabeled: UnlabeledCandidates;
  crop: CropSpec;
  modelVersions: HarvestRecord['modelVersions'][];
  studies: Record<ClassifierSetPart, number>;
  candidates: Record<ClassifierSetPart, { pos: number; neg: number }>;
  notAnalysed: number;
  /** The completely annotated studies (the calibration part): the classifier never learns from them. */
  calibrationStudies: string[];
}

/** Writes `<out>/train`, `<out>/calibration` and `<out>/classifier-set.json`; `out` must not exist (the data files are appended to). */
export async function exportClassifierSet(
  dataset: HarvestDataset,
  out: string,
  rules: SelectionRules,
  sourceFor: (record: HarvestRecord) => StudySource,
  options: { onStudy?: (studyInstanceUID: string, outcome: string) => void; unlabeled?: UnlabeledCandidates; spec?: CropSpec } = {},
): Promise<ClassifierSetSummary> {
  const { onStudy, unlabeled = 'left-out', spec = DEFAULT_CROP_SPEC } = options;
  if (fs.existsSync(out)) throw new TrainingSetError(`${out} exists: a classifier set is written once, into a new folder`);
  const writers = { train: new ClassifierDataWriter(path.join(out, 'train'), spec), calibration: new ClassifierDataWriter(path.join(out, 'calibration'), spec) };
  const summary: ClassifierSetSummary = {
    dataset: path.resolve(dataset.dir), unlabeled, crop: spec, modelVersions: [], studies: { train: 0, calibration: 0 },
    candidates: { train: { pos: 0, neg: 0 }, calibration: { pos: 0, neg: 0 } }, notAnalysed: 0, calibrationStudies: [],
  };
  try {
    for (const record of dataset.records()) {
      if (record.skipped || !record.sourceSeries) {
        summary.notAnalysed++;
        continue;
      }
      if (!summary.modelVersions.some((m) => JSON.stringify(m) === JSON.stringify(record.modelVersions))) summary.modelVersions.push(record.modelVersions);
      const { part, samples } = classifierSamples(record, unlabeled);
      summary.studies[part]++;
      if (part === 'calibration') summary.calibrationStudies.push(record.studyInstanceUID);
      if (!samples.length) continue;
      const volume = await harvestedVolume(record, rules, sourceFor(record));
      for (const s of samples)
        writers[part].add(volume, s.candidate.bboxLPS, s.candidate.detectorScore, s.label, { study: record.studyInstanceUID, kind: 'harvest', why: s.why, candidate: s.candidate.id });
      const pos = samples.filter((s) => s.label === 1).length;
      summary.candidates[part].pos += pos;
      summary.candidates[part].neg += samples.length - pos;
      onStudy?.(record.studyInstanceUID, `${part}: ${pos} lesions, ${samples.length - pos} not`);
    }
  } finally {
    writers.train.close();
    writers.calibration.close();
  }
  fs.writeFileSync(path.join(out, 'classifier-set.json'), JSON.stringify(summary, null, 1) + '\n');
  return summary;
}
