/**
 * One harvest run (docs/harvest.md): every study of the archive not yet harvested by these model versions is read
 * through the same select and fetch stages as the service, its existing labels are read from its SRs, the
 * detector and the proposal classifier propose and score candidates, and the study's record (with pictures of its
 * harvested lesions) is written to the dataset. Completely annotated studies go first: the thresholds for the
 * others are chosen on them (chooseThresholds) and recorded in the run and in each record.
 *
 * Interruptions: a study's record is its last write, so a run killed at any point resumes with the studies that
 * have no record; the studies of a run are met in a stable order. A study that fails is listed in the run record
 * and has no record, so the next run tries it again.
 */
import type { SelectionRules } from '../config/schema';
import type { Detector } from '../detect/detector';
import type { ProposalClassifier } from '../detect/proposal-classifier';
import { selectSeries } from '../dicom/select-series';
import type { Volume } from '../dicom/volume';
import { classifyError } from '../errors';
import { log } from '../log';
import { SkipStudy } from '../pipeline/errors';
import { selectStage } from '../pipeline/select-stage';
import { fetchStage, modelVersionOf } from '../pipeline/study-pipeline';
import { renderKeySlicePng, windowForLesionType } from '../server/key-slice-png';
import type { HarvestArchive } from './archives';
import { DATASET_FORMAT, type HarvestDataset, type HarvestRecord, type ModelVersions, type RecordedAnnotation, type RecordedCandidate, type RunRecord } from './dataset';
import { placeAnnotation } from './label-boxes';
import { chooseThresholds, classifyCandidates, proposeCandidates, thresholdsWarning, type LabeledSample, type ProposalOptions, type ThresholdPolicy, type Thresholds } from './proposals';
import { studyAnnotations, type SrFinding, type StudyAnnotations } from './sr-labels';

export interface HarvestDeps {
  archive: HarvestArchive;
  dataset: HarvestDataset;
  detector: Pick<Detector, 'detect' | 'manifest'>;
  classifier: Pick<ProposalClassifier, 'probabilities' | 'finalScore' | 'manifest'>;
  rules: SelectionRules;
  policy: ThresholdPolicy;
  proposals?: ProposalOptions;
  /** Studies a research team listed as completely annotated (besides those their SRs mark). */
  completeStudies?: ReadonlySet<string>;
  window?: { since?: string; until?: string };
  /** Each study's outcome, as it happens (the CLI prints it). */
  onStudy?(studyInstanceUID: string, outcome: string): void;
  /** Each study's figures, as it happens (the service's metrics and the job's journey). */
  onProgress?(p: StudyProgress): void;
}

export interface StudyProgress {
  studyInstanceUID: string;
  outcome: 'harvested' | 'already-harvested' | 'not-analysed' | 'failed';
  /** Candidates of the study (matched, harvested, hard negatives, uncertain). */
  proposals: number;
  labels: number;
  harvested: number;
  hardNegatives: number;
  /** Pixel data read from the PACS for the study (0 for a folder). */
  bytesRead: number;
  /** Studies met so far in this run, of those found. */
  done: number;
  of: number;
}

export function modelVersionsOf(d: Pick<HarvestDeps, 'detector' | 'classifier'>): ModelVersions {
  return { detector: modelVersionOf(d.detector.manifest), classifier: `${d.classifier.manifest.name}-${d.classifier.manifest.version}` };
}

interface Pending {
  studyInstanceUID: string;
  annotations: StudyAnnotations;
  complete: { value: boolean; by: string[] };
}

export async function runHarvest(d: HarvestDeps): Promise<RunRecord> {
  const models = modelVersionsOf(d);
  const startedAt = new Date();
  const run: RunRecord = {
    format: DATASET_FORMAT,
    runId: startedAt.toISOString().replace(/[:.]/g, '-'),
    startedAt: startedAt.toISOString(),
    status: 'running',
    source: d.archive.description,
    window: d.window ?? {},
    modelVersions: models,
    counts: { studies: 0, skippedAlreadyHarvested: 0, harvestedStudies: 0, notAnalysed: 0, failed: 0, labels: 0, harvested: 0, hardNegatives: 0, uncertain: 0, pacsBytesRead: 0 },
    failures: [],
  };
  d.dataset.writeRun(run);
  try {
    const studies = await d.archive.studies();
    run.counts.studies = studies.length;
    let done = 0;
    const progress = (studyInstanceUID: string, outcome: StudyProgress['outcome'], r?: HarvestRecord, bytesRead = 0) =>
      d.onProgress?.({
        studyInstanceUID, outcome, bytesRead, done: ++done, of: studies.length,
        proposals: r ? r.matched.length + r.harvested.length + r.hardNegatives.length + r.uncertain.length : 0,
        labels: r?.existingLabels.length ?? 0, harvested: r?.harvested.length ?? 0, hardNegatives: r?.hardNegatives.length ?? 0,
      });
    const pending: Pending[] = [];
    for (const uid of studies) {
      if (d.dataset.isHarvested(uid, models)) {
        run.counts.skippedAlreadyHarvested++;
        d.onStudy?.(uid, 'already harvested');
        progress(uid, 'already-harvested');
        continue;
      }
      let annotations: StudyAnnotations;
      try {
        annotations = studyAnnotations(await d.archive.srDatasets(uid));
      } catch (e) {
        failed(d, run, uid, e);
        progress(uid, 'failed');
        continue;
      }
      const by = [...annotations.completeBy.map((sop) => `SR ${sop}`), ...(d.completeStudies?.has(uid) ? ['list'] : [])];
      pending.push({ studyInstanceUID: uid, annotations, complete: { value: by.length > 0, by } });
    }
    // Stable sort: completely annotated studies first, each group in the archive's order.
    pending.sort((a, b) => Number(b.complete.value) - Number(a.complete.value));
    let thresholds: Thresholds | undefined;
    for (const p of pending) {
      if (!p.complete.value && !thresholds) {
        thresholds = thresholdsFromDataset(d.dataset, models, d.policy);
        run.thresholds = thresholds;
        const warning = thresholdsWarning(thresholds, d.policy);
        if (warning) log.warn(`harvest: ${warning}`, { runId: run.runId });
        d.dataset.writeRun(run);
      }
      const bytesBefore = d.archive.meter?.total ?? 0;
      try {
        const record = await harvestStudy(d, p, models, run.runId, thresholds);
        d.dataset.writeRecord(record);
        count(run, record);
        d.onStudy?.(p.studyInstanceUID, record.skipped ? `not analysed: ${record.skipped.message}` : describe(record));
        progress(p.studyInstanceUID, record.skipped ? 'not-analysed' : 'harvested', record, (d.archive.meter?.total ?? 0) - bytesBefore);
      } catch (e) {
        failed(d, run, p.studyInstanceUID, e);
        progress(p.studyInstanceUID, 'failed', undefined, (d.archive.meter?.total ?? 0) - bytesBefore);
      }
    }
    run.thresholds ??= thresholds;
    run.status = 'complete';
    return run;
  } catch (e) {
    run.status = 'failed';
    run.failures.push({ studyInstanceUID: '', message: classifyError(e).message });
    throw e;
  } finally {
    run.counts.pacsBytesRead = d.archive.meter?.total ?? 0;
    run.finishedAt = new Date().toISOString();
    d.dataset.writeRun(run);
  }
}

/** A study that failed is listed and has no record (the next run tries it again); a transient failure ends the run. */
function failed(d: HarvestDeps, run: RunRecord, studyInstanceUID: string, e: unknown): void {
  const c = classifyError(e);
  // The PACS gone: every later study would fail the same way; the next run resumes.
  if (c.transient) throw e;
  run.counts.failed++;
  run.failures.push({ studyInstanceUID, message: c.message });
  log.warn('harvest: study failed', { studyInstanceUID, reason: c.reason, error: c.message });
  d.onStudy?.(studyInstanceUID, `failed: ${c.message}`);
}

function count(run: RunRecord, r: HarvestRecord): void {
  if (r.skipped) {
    run.counts.notAnalysed++;
    return;
  }
  run.counts.harvestedStudies++;
  run.counts.labels += r.existingLabels.length;
  run.counts.harvested += r.harvested.length;
  run.counts.hardNegatives += r.hardNegatives.length;
  run.counts.uncertain += r.uncertain.length;
}

function describe(r: HarvestRecord): string {
  return `${r.existingLabels.length} labels, ${r.matched.length} matched, ${r.harvested.length} harvested, ${r.hardNegatives.length} hard negatives, ${r.uncertain.length} uncertain${r.completelyAnnotated.value ? ' (completely annotated)' : ''}`;
}

/**
 * The thresholds chosen on every completely annotated study of the dataset harvested by these model versions
 * (this run's and earlier runs'): their matched candidates are lesions, the others not.
 */
export function thresholdsFromDataset(dataset: HarvestDataset, models: ModelVersions, policy: ThresholdPolicy): Thresholds {
  const samples: LabeledSample[] = [];
  let studies = 0;
  for (const r of dataset.records()) {
    if (r.skipped || !r.completelyAnnotated.value) continue;
    if (r.modelVersions.detector !== models.detector || r.modelVersions.classifier !== models.classifier) continue;
    studies++;
    for (const c of r.matched) samples.push({ score: c.score, lesion: true });
    for (const c of [...r.hardNegatives, ...r.uncertain, ...r.harvested]) samples.push({ score: c.score, lesion: false });
  }
  return chooseThresholds(samples, studies, policy);
}

async function harvestStudy(d: HarvestDeps, p: Pending, models: ModelVersions, runId: string, thresholds: Thresholds | undefined): Promise<HarvestRecord> {
  const base: HarvestRecord = {
    format: DATASET_FORMAT,
    studyInstanceUID: p.studyInstanceUID,
    source: d.archive.description,
    harvestedAt: new Date().toISOString(),
    modelVersions: models,
    runId,
    srs: { own: p.annotations.ownSrs, readers: p.annotations.readerSrs },
    completelyAnnotated: p.complete,
    existingLabels: p.annotations.labels.map((l) => recorded(l)),
    rejectedFindings: p.annotations.rejected.map((l) => recorded(l)),
    annotationsWithoutGeometry: p.annotations.groupsWithoutGeometry,
    matched: [],
    harvested: [],
    hardNegatives: [],
    uncertain: [],
  };
  const select = selectStage({
    modelVersion: `${models.detector}+${models.classifier}`,
    rules: d.rules,
    source: d.archive.source,
    selectSeries: (series, r) => selectSeries(series, r),
    findSucceeded: async () => undefined,
  });
  let selected;
  try {
    selected = await select.run({ studyInstanceUID: p.studyInstanceUID, force: true });
  } catch (e) {
    if (e instanceof SkipStudy) return { ...base, skipped: { reason: e.reason, message: e.message } };
    throw e;
  }
  const { volume } = await fetchStage(d.archive.source).run(selected);
  const labels = p.annotations.labels.map((l) => recorded(l, volume));
  const rejected = p.annotations.rejected.map((l) => recorded(l, volume));
  const candidates = await proposeCandidates(d.detector, d.classifier, volume, d.proposals);
  const used = thresholds ?? { high: null, low: 0, method: 'defaults' as const };
  const classified = classifyCandidates(
    candidates,
    labels.filter((l): l is RecordedAnnotation & { bboxLPS: NonNullable<RecordedAnnotation['bboxLPS']> } => !!l.bboxLPS),
    rejected.filter((l): l is RecordedAnnotation & { bboxLPS: NonNullable<RecordedAnnotation['bboxLPS']> } => !!l.bboxLPS),
    used,
    p.complete.value,
  );
  const record: HarvestRecord = {
    ...base,
    sourceSeries: { seriesInstanceUID: selected.series.seriesInstanceUID, why: selected.why, slices: volume.dims[2] },
    ...(p.complete.value ? {} : { thresholds: used }),
    existingLabels: labels,
    rejectedFindings: rejected,
  };
  for (const c of classified as RecordedCandidate[]) {
    if (c.status === 'label') record.matched.push(c);
    else if (c.status === 'hard-negative') record.hardNegatives.push(c);
    else if (c.status === 'uncertain') record.uncertain.push(c);
    else {
      c.picture = d.dataset.writePicture(p.studyInstanceUID, `lesion-${c.id}`, keySlicePicture(volume, c));
      record.harvested.push(c);
    }
  }
  return record;
}

/** An SR finding as recorded; with the volume, placed on its slice with a 3D box (when the image is one of its slices). */
function recorded(f: SrFinding, volume?: Volume): RecordedAnnotation {
  const a = f.annotation;
  const placed = volume ? placeAnnotation(a, volume) : undefined;
  return {
    srSopInstanceUID: f.srSopInstanceUID,
    ...(f.trackingUid ? { trackingUid: f.trackingUid } : {}),
    ...(f.trackingId ? { trackingId: f.trackingId } : {}),
    ...(f.findingSite ? { findingSite: f.findingSite } : {}),
    shape: a.shape,
    keySlice: { sopInstanceUID: a.sopInstanceUID, ...(a.frameNumber ? { frameNumber: a.frameNumber } : {}), ...(placed ? { sliceIndex: placed.sliceIndex } : {}), box: a.box },
    ...(placed ? { bboxLPS: placed.bboxLPS } : {}),
  };
}

/** The key slice of a candidate from the volume in memory (no second read of the PACS), with its box. */
function keySlicePicture(volume: Volume, c: RecordedCandidate): Buffer {
  const frame = c.keySlice.frameNumber ?? 1;
  const k = volume.slices.findIndex((s) => s.sopInstanceUID === c.keySlice.sopInstanceUID && (s.frameNumber ?? 1) === frame);
  if (k < 0) throw new Error(`key slice ${c.keySlice.sopInstanceUID} of candidate ${c.id} is not in the volume`);
  const [columns, rows] = volume.dims;
  const hu = volume.data.subarray(k * rows * columns, (k + 1) * rows * columns);
  return renderKeySlicePng({ hu, rows, columns }, windowForLesionType(c.type), c.keySlice.box);
}
