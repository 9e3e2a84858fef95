/**
 * One job of the service, as its analysis process (worker/analysis-child.ts) runs it: the stages (run-stages.ts),
 * each checked against the job's lease and recorded as entered before it starts (so that a death of the process
 * inside it is counted for that stage by the poison rule of jobs/state-machine.ts) and as done with its duration
 * after it, and the outcome (or the error) turned into a JobCompletion. Before the analysis proper (after the selection), a report the PACS already holds for the
 * selection (a worker killed after storing it) completes the job without analysing the study again.
 */
import { classifyError, LensError } from '../errors';
import { LeaseLostError } from '../jobs/errors';
import type { JobCompletion, JourneyEventName, LesionSummary, StudyInfo } from '../jobs/types';
import { log } from '../log';
import type { StoredReportFound } from '../report';
import { SkipStudy } from './errors';
import { newProgress, runStages } from './run-stages';
import type { StageName } from './stages';
import type { StudyPipeline } from './study-pipeline';

export interface RunContext {
  journal(event: JourneyEventName, details?: Record<string, unknown>): void | Promise<void>;
  /** Records durably that the job enters `stage`, before it runs; throws LeaseLostError when the job is not ours. */
  enterStage(stage: StageName): void | Promise<void>;
  /** Throws when the worker lost its lease: the job belongs to someone else now. */
  checkLease(): void;
  /** Records what the dashboard shows of the study (JobStore.recordStudy), once the series is selected. */
  recordStudy?(study: StudyInfo): void | Promise<void>;
}

/** What runJob needs of a study-analysis job. */
export interface StudyJobRef {
  id: number;
  studyInstanceUID: string;
  force: boolean;
  /** Epoch ms: when the first event for the job arrived. */
  receivedAt: number;
  /** A study received by the service's C-STORE SCP: its folder, relative to the work dir (src/dimse/pipeline.ts). */
  dimseFolder?: string;
}

/** Ends the stages early: the selection's report is already stored. */
class AlreadyStored extends LensError {
  constructor(readonly found: StoredReportFound) {
    super('the report of this selection is already stored', 'already-stored');
  }
}

export async function runJob(job: StudyJobRef, p: StudyPipeline, ctx: RunContext): Promise<JobCompletion> {
  const t0 = Date.now();
  const progress = newProgress();
  let stage: StageName | undefined;
  const timingsMs = (r: Partial<Record<StageName, number>>) => {
    const now = Date.now();
    return { ...r, total: now - t0, eventToStored: now - job.receivedAt } as Record<string, number>;
  };
  try {
    const r = await runStages({ studyInstanceUID: job.studyInstanceUID, force: job.force }, p, {
      beforeStage: async (name) => {
        ctx.checkLease();
        // A manual re-run (force) analyses again whatever is stored.
        if (name === 'fetched' && !job.force && p.findStored && progress.selected) {
          const found = await p.findStored(progress.selected);
          if (found) throw new AlreadyStored(found);
        }
        stage = name;
        await ctx.enterStage(name);
      },
      afterStage: async (name, ms, details) => {
        if (name === 'selected' && progress.selected?.study) await ctx.recordStudy?.(progress.selected.study);
        await ctx.journal(name, { ms, ...details });
        log.info('stage done', { jobId: job.id, stage: name, ms, studyInstanceUID: job.studyInstanceUID });
      },
    }, progress);
    const lesions: LesionSummary[] = r.detected.findings.lesions.map((l) => ({
      id: l.id, type: l.type, score: l.score, longAxisMm: l.longAxisMm, shortAxisMm: l.shortAxisMm, keySlice: l.keySlice,
    }));
    return {
      kind: 'succeeded',
      outputs: { seriesInstanceUID: r.selected.series.seriesInstanceUID, ...r.stored.outputs },
      lesions,
      timingsMs: timingsMs(r.timingsMs),
      idempotencyKey: r.selected.idempotencyKey,
      seriesInstanceUID: r.selected.series.seriesInstanceUID,
      modelVersion: r.selected.modelVersion,
    };
  } catch (e) {
    if (e instanceof LeaseLostError) throw e;
    const selected = progress.selected;
    if (e instanceof AlreadyStored && selected) {
      const { outputs, lesionCount } = e.found;
      await ctx.journal('already-stored', { ...outputs, lesions: lesionCount });
      log.info('report already stored: job completed without analysis', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, ...outputs });
      return {
        kind: 'succeeded',
        outputs: { seriesInstanceUID: selected.series.seriesInstanceUID, ...outputs },
        // The lesion details (key slices, boxes) lived in the lost attempt; the stored SR holds the findings.
        lesions: [],
        alreadyStored: { lesionCount },
        timingsMs: timingsMs(progress.timingsMs),
        idempotencyKey: selected.idempotencyKey,
        seriesInstanceUID: selected.series.seriesInstanceUID,
        modelVersion: selected.modelVersion,
      };
    }
    if (e instanceof SkipStudy) {
      log.info('job skipped', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, reason: e.reason });
      return {
        kind: 'skipped', reason: e.reason, message: e.message,
        idempotencyKey: selected?.idempotencyKey, seriesInstanceUID: selected?.series.seriesInstanceUID, modelVersion: selected?.modelVersion,
      };
    }
    const c = classifyError(e);
    log.warn('job failed', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, stage, reason: c.reason, transient: c.transient, error: c.message });
    return { kind: 'failed', reason: c.reason, transient: c.transient, message: c.message, ...(stage ? { stage } : {}) };
  }
}
