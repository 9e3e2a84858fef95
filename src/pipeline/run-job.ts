/**
 * The orchestrator: runs the stages of one job in order, records each in the journey with its duration, and
 * turns the outcome (or the error) into a JobCompletion for the job store.
 */
import { LeaseLostError } from '../jobs/errors';
import { log } from '../log';
import type { Job, JobCompletion, JourneyEventName, LesionSummary } from '../jobs/types';
import { classifyError, SkipStudy } from './errors';
import type { Detection, FetchedVolume, ReceivedStudy, ReportObjects, SelectedSeries, Stage, StoredReport } from './stages';

export interface StudyPipeline {
  select: Stage<ReceivedStudy, SelectedSeries>;
  fetch: Stage<SelectedSeries, FetchedVolume>;
  detect: Stage<FetchedVolume, Detection>;
  build: Stage<Detection, ReportObjects>;
  store: Stage<ReportObjects, StoredReport>;
}

export interface RunContext {
  journal(event: JourneyEventName, details?: Record<string, unknown>): void;
  /** Throws when the worker lost its lease: the job belongs to someone else now. */
  checkLease(): void;
}

export async function runJob(job: Pick<Job, 'id' | 'studyInstanceUID' | 'force' | 'receivedAt'>, p: StudyPipeline, ctx: RunContext): Promise<JobCompletion> {
  const timingsMs: Record<string, number> = {};
  const t0 = Date.now();
  async function step<I, O>(stage: Stage<I, O>, input: I): Promise<O> {
    ctx.checkLease();
    const start = Date.now();
    const out = await stage.run(input);
    const ms = Date.now() - start;
    timingsMs[stage.name] = ms;
    ctx.journal(stage.name, { ms, ...stage.describe(out) });
    log.info('stage done', { jobId: job.id, stage: stage.name, ms, studyInstanceUID: job.studyInstanceUID });
    return out;
  }
  let selected: SelectedSeries | undefined;
  try {
    selected = await step(p.select, { studyInstanceUID: job.studyInstanceUID, force: job.force });
    const fetched = await step(p.fetch, selected);
    const detection = await step(p.detect, fetched);
    const report = await step(p.build, detection);
    const stored = await step(p.store, report);
    const now = Date.now();
    timingsMs.total = now - t0;
    timingsMs.eventToStored = now - job.receivedAt;
    const lesions: LesionSummary[] = detection.findings.lesions.map((l) => ({
      id: l.id, type: l.type, score: l.score, longAxisMm: l.longAxisMm, shortAxisMm: l.shortAxisMm, keySlice: l.keySlice,
    }));
    return {
      kind: 'succeeded',
      outputs: { seriesInstanceUID: selected.series.seriesInstanceUID, ...stored.outputs },
      lesions,
      timingsMs,
      idempotencyKey: selected.idempotencyKey,
      seriesInstanceUID: selected.series.seriesInstanceUID,
      modelVersion: selected.modelVersion,
    };
  } catch (e) {
    if (e instanceof LeaseLostError) throw e;
    if (e instanceof SkipStudy) {
      log.info('job skipped', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, reason: e.reason });
      return {
        kind: 'skipped', reason: e.reason, message: e.message,
        idempotencyKey: selected?.idempotencyKey, seriesInstanceUID: selected?.series.seriesInstanceUID, modelVersion: selected?.modelVersion,
      };
    }
    const c = classifyError(e);
    log.warn('job failed', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, reason: c.reason, transient: c.transient, error: c.message });
    return { kind: 'failed', reason: c.reason, transient: c.transient, message: c.message };
  }
}
