/**
 * One job of the service: the stages (run-stages.ts), each checked against the job's lease before it starts and
 * recorded in the journey with its duration, and the outcome (or the error) turned into a JobCompletion.
 */
import { classifyError } from '../errors';
import { LeaseLostError } from '../jobs/errors';
import type { JobCompletion, JourneyEventName, LesionSummary } from '../jobs/types';
import { log } from '../log';
import { SkipStudy } from './errors';
import { newProgress, runStages } from './run-stages';
import type { StudyPipeline } from './study-pipeline';

export interface RunContext {
  journal(event: JourneyEventName, details?: Record<string, unknown>): void | Promise<void>;
  /** Throws when the worker lost its lease: the job belongs to someone else now. */
  checkLease(): void;
}

/** What runJob needs of a study-analysis job. */
export interface StudyJobRef {
  id: number;
  studyInstanceUID: string;
  force: boolean;
  /** Epoch ms: when the first event for the job arrived. */
  receivedAt: number;
}

export async function runJob(job: StudyJobRef, p: StudyPipeline, ctx: RunContext): Promise<JobCompletion> {
  const t0 = Date.now();
  const progress = newProgress();
  try {
    const r = await runStages({ studyInstanceUID: job.studyInstanceUID, force: job.force }, p, {
      beforeStage: () => ctx.checkLease(),
      afterStage: async (stage, ms, details) => {
        await ctx.journal(stage, { ms, ...details });
        log.info('stage done', { jobId: job.id, stage, ms, studyInstanceUID: job.studyInstanceUID });
      },
    }, progress);
    const now = Date.now();
    const timingsMs: Record<string, number> = { ...r.timingsMs, total: now - t0, eventToStored: now - job.receivedAt };
    const lesions: LesionSummary[] = r.detected.findings.lesions.map((l) => ({
      id: l.id, type: l.type, score: l.score, longAxisMm: l.longAxisMm, shortAxisMm: l.shortAxisMm, keySlice: l.keySlice,
    }));
    return {
      kind: 'succeeded',
      outputs: { seriesInstanceUID: r.selected.series.seriesInstanceUID, ...r.stored.outputs },
      lesions,
      timingsMs,
      idempotencyKey: r.selected.idempotencyKey,
      seriesInstanceUID: r.selected.series.seriesInstanceUID,
      modelVersion: r.selected.modelVersion,
    };
  } catch (e) {
    if (e instanceof LeaseLostError) throw e;
    const selected = progress.selected;
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
