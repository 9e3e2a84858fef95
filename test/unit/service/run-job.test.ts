/**
 * runJob, the service's orchestration of one job, over stages that only record what happens to them: the lease is
 * checked before every stage, each finished stage is journaled (awaited) in order, and every outcome becomes the
 * JobCompletion the job store needs: succeeded, skipped, a transient or a permanent failure; a lost lease ends the
 * job without a completion.
 */
import type { Findings } from '../../../src/detect/findings';
import type { SeriesInfo } from '../../../src/dicom/series';
import type { Volume } from '../../../src/dicom/volume';
import { VolumeError } from '../../../src/dicom/volume-error';
import { classifyError } from '../../../src/errors';
import { LeaseLostError } from '../../../src/jobs/errors';
import type { JourneyEventName } from '../../../src/jobs/types';
import { PacsUnreachableError } from '../../../src/pacs/errors';
import { SkipStudy } from '../../../src/pipeline/errors';
import { runJob, type RunContext } from '../../../src/pipeline/run-job';
import type { Detection, FetchedVolume, ReportObjects, SelectedSeries, Stage, StageName, StoredReport } from '../../../src/pipeline/stages';
import type { StudyPipeline } from '../../../src/pipeline/study-pipeline';

const STUDY = '1.2.3';
const SERIES = '1.2.3.4';
const job = { id: 7, studyInstanceUID: STUDY, force: false, receivedAt: Date.now() - 5000 };

const series: SeriesInfo = { studyInstanceUID: STUDY, seriesInstanceUID: SERIES, modality: 'CT', instances: [] };
const selected: SelectedSeries = {
  studyInstanceUID: STUDY,
  series,
  metadata: { series, unreadable: [], dataset: async () => ({}) },
  why: 'the only CT series',
  tolerated: [],
  modelVersion: 'lens-ulb-0.3.0',
  idempotencyKey: `${STUDY}|${SERIES}|3:0123456789abcdef|lens-ulb-0.3.0`,
  instances: { count: 3, digest: '0123456789abcdef' },
  rejected: [],
};
const fetched: FetchedVolume = { selection: selected, volume: { dims: [4, 4, 3] } as Volume, sourceDataset: {}, notes: [] };
const findings: Findings = {
  studyInstanceUID: STUDY,
  seriesInstanceUID: SERIES,
  model: { name: 'lens-ulb', version: '0.3.0', executionProvider: 'cpu' },
  lesions: [
    {
      id: 1, trackingUid: '2.25.1', type: 'lung_nodule', score: 0.9, bboxLPS: [0, 0, 0, 10, 10, 10],
      keySlice: { sopInstanceUID: '1.2.3.4.5', box: [1, 2, 3, 4] }, longAxisMm: 12, shortAxisMm: 8, volumeMm3: 400,
    },
  ],
  timingsMs: {},
};
const detection: Detection = { fetched, findings };
const built: ReportObjects = { detection, objects: [], outputs: { srSeriesUID: '1.2.3.9', srSopInstanceUID: '1.2.3.9.1' } };
const stored: StoredReport = { report: built, outputs: built.outputs, locations: ['sr series 1.2.3.9'] };

/** A pipeline whose stages log their runs and return the fixtures above, or throw where `fail` says. */
function recordingPipeline(log: string[], fail: Partial<Record<StageName, Error>> = {}): StudyPipeline {
  const stage = <I, O>(name: StageName, out: O): Stage<I, O> => ({
    name,
    describe: () => ({ stage: name }),
    async run() {
      log.push(`run ${name}`);
      const e = fail[name];
      if (e) throw e;
      return out;
    },
  });
  return {
    select: stage('selected', selected),
    fetch: stage('fetched', fetched),
    detect: stage('detected', detection),
    build: stage('built', built),
    store: stage('stored', stored),
  };
}

/** A context whose journal resolves a tick later (a network job store) and whose lease is lost before `loseAt`. */
function recordingContext(log: string[], loseAt?: StageName): RunContext & { journey: { event: JourneyEventName; details?: Record<string, unknown> }[] } {
  const journey: { event: JourneyEventName; details?: Record<string, unknown> }[] = [];
  return {
    journey,
    journal: async (event, details) => {
      await new Promise((r) => setImmediate(r));
      journey.push({ event, details });
      log.push(`journal ${event}`);
    },
    enterStage: (stage) => {
      log.push(`enter ${stage}`);
    },
    checkLease: () => {
      log.push('lease');
      const next = (['selected', 'fetched', 'detected', 'built', 'stored'] as const)[journey.length];
      if (next === loseAt) throw new LeaseLostError(`lease of job ${job.id} lost`);
    },
  };
}

test('success: every stage runs after a lease check, is journaled before the next starts, and the completion holds the outputs', async () => {
  const log: string[] = [];
  const ctx = recordingContext(log);
  const c = await runJob(job, recordingPipeline(log), ctx);
  const stages = ['selected', 'fetched', 'detected', 'built', 'stored'];
  expect(log).toEqual(stages.flatMap((s) => ['lease', `enter ${s}`, `run ${s}`, `journal ${s}`]));
  expect(ctx.journey.map((j) => j.event)).toEqual(stages);
  expect(ctx.journey[0].details).toMatchObject({ stage: 'selected', ms: expect.any(Number) });
  expect(c).toMatchObject({
    kind: 'succeeded',
    outputs: { seriesInstanceUID: SERIES, srSeriesUID: '1.2.3.9', srSopInstanceUID: '1.2.3.9.1' },
    idempotencyKey: selected.idempotencyKey,
    seriesInstanceUID: SERIES,
    modelVersion: 'lens-ulb-0.3.0',
    lesions: [{ id: 1, type: 'lung_nodule', score: 0.9, longAxisMm: 12, shortAxisMm: 8, keySlice: findings.lesions[0].keySlice }],
  });
  if (c.kind !== 'succeeded') throw new Error('not succeeded');
  expect(Object.keys(c.timingsMs).sort()).toEqual([...stages, 'eventToStored', 'total'].sort());
  expect(c.timingsMs.eventToStored).toBeGreaterThanOrEqual(5000);
});

test('skip: the study needs no analysis; no later stage runs and the completion says why', async () => {
  const log: string[] = [];
  const ctx = recordingContext(log);
  const c = await runJob(job, recordingPipeline(log, { selected: new SkipStudy('already-analysed', 'series 1.2.3.4 was analysed in job 3') }), ctx);
  expect(c).toEqual({
    kind: 'skipped', reason: 'already-analysed', message: 'series 1.2.3.4 was analysed in job 3',
    idempotencyKey: undefined, seriesInstanceUID: undefined, modelVersion: undefined,
  });
  expect(log).toEqual(['lease', 'enter selected', 'run selected']);
  expect(ctx.journey).toEqual([]);
});

test('a skip after the selection keeps the selection\'s idempotency key', async () => {
  const log: string[] = [];
  const c = await runJob(job, recordingPipeline(log, { fetched: new SkipStudy('own-output', 'only our outputs changed') }), recordingContext(log));
  expect(c).toMatchObject({ kind: 'skipped', reason: 'own-output', idempotencyKey: selected.idempotencyKey, seriesInstanceUID: SERIES });
});

test('transient failure: a PACS that cannot be reached fails the job for a retry, with the reason', async () => {
  const log: string[] = [];
  const ctx = recordingContext(log);
  const e = new PacsUnreachableError('http://127.0.0.1:8042/dicom-web', 3, 'ECONNREFUSED');
  const c = await runJob(job, recordingPipeline(log, { fetched: e }), ctx);
  expect(c).toEqual({ kind: 'failed', transient: true, reason: classifyError(e).reason, message: e.message, stage: 'fetched' });
  expect(ctx.journey.map((j) => j.event)).toEqual(['selected']);
  expect(log).not.toContain('run detected');
});

test('permanent failure: data that cannot make a volume fails the job at once, not for a retry', async () => {
  const log: string[] = [];
  const e = new VolumeError('slice 12 is missing: a gap of 10 mm in a 5 mm series');
  const c = await runJob(job, recordingPipeline(log, { detected: e }), recordingContext(log));
  expect(c).toEqual({ kind: 'failed', transient: false, reason: classifyError(e).reason, message: e.message, stage: 'detected' });
  expect(log).not.toContain('run built');
});

test('a bug (not a LensError) fails the job permanently as internal', async () => {
  const log: string[] = [];
  const c = await runJob(job, recordingPipeline(log, { built: new TypeError("Cannot read properties of undefined (reading 'role')") }), recordingContext(log));
  expect(c).toMatchObject({ kind: 'failed', transient: false, reason: 'internal' });
});

test('lease lost: the job stops before the next stage and no completion is reported', async () => {
  const log: string[] = [];
  const ctx = recordingContext(log, 'detected');
  await expect(runJob(job, recordingPipeline(log), ctx)).rejects.toBeInstanceOf(LeaseLostError);
  expect(log).toEqual(['lease', 'enter selected', 'run selected', 'journal selected', 'lease', 'enter fetched', 'run fetched', 'journal fetched', 'lease']);
  expect(ctx.journey.map((j) => j.event)).toEqual(['selected', 'fetched']);
});

test('a report the sink already holds for the selection completes the job after the selection, without analysis', async () => {
  const log: string[] = [];
  const ctx = recordingContext(log);
  const asked: string[] = [];
  const p: StudyPipeline = {
    ...recordingPipeline(log),
    findStored: async (s) => {
      asked.push(s.series.seriesInstanceUID);
      return { outputs: { srSeriesUID: '1.2.3.9', srSopInstanceUID: '1.2.3.9.1', segSeriesUID: '1.2.3.8', segSopInstanceUID: '1.2.3.8.1' }, lesionCount: 2 };
    },
  };
  const c = await runJob(job, p, ctx);
  expect(asked).toEqual([SERIES]);
  expect(log).toEqual(['lease', 'enter selected', 'run selected', 'journal selected', 'lease', 'journal already-stored']);
  expect(c).toMatchObject({
    kind: 'succeeded', lesions: [], alreadyStored: { lesionCount: 2 }, idempotencyKey: selected.idempotencyKey,
    outputs: { seriesInstanceUID: SERIES, srSopInstanceUID: '1.2.3.9.1', segSopInstanceUID: '1.2.3.8.1' },
  });
  // A manual re-run (force) analyses again whatever is stored.
  const forced: string[] = [];
  const again = await runJob({ ...job, force: true }, { ...recordingPipeline(forced), findStored: p.findStored }, recordingContext(forced));
  expect(again).toMatchObject({ kind: 'succeeded', lesions: [{ id: 1 }] });
  expect(forced).toContain('run detected');
  expect(asked).toHaveLength(1);
});
