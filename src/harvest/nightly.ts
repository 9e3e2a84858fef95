/**
 * The nightly harvest in `lens serve` (docs/harvest.md#the-nightly-schedule):
 *   - HarvestScheduler (on the node leading the 'harvest' role): at `harvest.schedule` (node-cron) it enqueues a
 *     harvest-run job whose window ends `harvest.windowHours` later;
 *   - harvestRunner (a WorkerPool runner of its own, so a harvest never takes a slot of the study workers): forks
 *     harvest-child.ts, pauses it (SIGSTOP) while study analyses are queued or running and resumes it (SIGCONT)
 *     when none are, and kills it when the window ends. The dataset is the durable cursor: the next night's run
 *     skips every study that has a record and resumes with the first that has none.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import cron from 'node-cron';
import type { LensConfig } from '../config/schema';
import type { JobCompletion, JobStore, HarvestRunJob } from '../jobs/types';
import { JobAbandonedError, type JobRunContext } from '../jobs/worker';
import { log } from '../log';
import { loaderArgs, siblingModule } from '../worker/module-entry';
import type { FromHarvestChild, HarvestOrder } from './harvest-child';
import type { StudyProgress } from './harvest-run';

export interface HarvestSchedulerOptions {
  schedule: string;
  windowHours: number;
  enqueue(windowEndsAt: number): Promise<void>;
}

export class HarvestScheduler {
  private task?: cron.ScheduledTask;

  constructor(private readonly o: HarvestSchedulerOptions) {
    if (!cron.validate(o.schedule)) throw new Error(`harvest.schedule "${o.schedule}" is not a valid cron expression`);
  }

  start(): this {
    this.task = cron.schedule(this.o.schedule, () => {
      const windowEndsAt = Date.now() + this.o.windowHours * 3600_000;
      this.o.enqueue(windowEndsAt).catch((e) => log.error('harvest: the nightly run could not be enqueued', { error: (e as Error).message }));
    });
    return this;
  }

  async stop(): Promise<void> {
    this.task?.stop();
    this.task = undefined;
  }
}

export interface HarvestRunnerOptions {
  config: LensConfig;
  /** Study analyses queued or running now: the harvest pauses while there are any. */
  liveWork(): Promise<number>;
  /** How often live work, the window and the lease are looked at (default 0.5 s: a live study waits at most that long for the CPU). */
  checkEveryMs?: number;
  /** Harvest a folder instead of the PACS (tests, offline archives). */
  folder?: string;
  /** Aborted when the service stops: the harvest process is killed and the job left for a later run. */
  signal?: AbortSignal;
  /** Told when the harvest process starts, pauses, resumes or is killed (metrics, tests). */
  onState?(state: 'started' | 'paused' | 'resumed' | 'killed', pid: number): void;
  /** The service's harvest metrics (src/server/metrics.ts). */
  metrics?: HarvestMetrics;
  /** At most one `harvest-progress` journey event per this many ms while studies go by (default 30 s; 0: every study). */
  journeyEveryMs?: number;
}

export interface HarvestMetrics {
  harvestStudy(p: StudyProgress): void;
  harvestState(state: HarvestState): void;
  harvestRunFinished(seconds: number, outcome: string): void;
}

export type HarvestState = 'started' | 'paused' | 'resumed' | 'killed' | 'ended';

/** The run's figures so far, as its journey shows them. */
export interface HarvestTotals {
  studiesDone: number;
  studiesFound: number;
  harvestedStudies: number;
  alreadyHarvested: number;
  notAnalysed: number;
  failed: number;
  proposals: number;
  harvested: number;
  hardNegatives: number;
  bytesRead: number;
}

export function addProgress(t: HarvestTotals, p: StudyProgress): HarvestTotals {
  return {
    studiesDone: p.done,
    studiesFound: p.of,
    harvestedStudies: t.harvestedStudies + (p.outcome === 'harvested' ? 1 : 0),
    alreadyHarvested: t.alreadyHarvested + (p.outcome === 'already-harvested' ? 1 : 0),
    notAnalysed: t.notAnalysed + (p.outcome === 'not-analysed' ? 1 : 0),
    failed: t.failed + (p.outcome === 'failed' ? 1 : 0),
    proposals: t.proposals + p.proposals,
    harvested: t.harvested + p.harvested,
    hardNegatives: t.hardNegatives + p.hardNegatives,
    bytesRead: t.bytesRead + p.bytesRead,
  };
}

const NO_PROGRESS: HarvestTotals = { studiesDone: 0, studiesFound: 0, harvestedStudies: 0, alreadyHarvested: 0, notAnalysed: 0, failed: 0, proposals: 0, harvested: 0, hardNegatives: 0, bytesRead: 0 };

/** The payload of a harvest-run job: when its window ends (epoch ms; absent: no end). */
export function windowEndOf(job: Pick<HarvestRunJob, 'payload'>): number | undefined {
  const v = Number(job.payload?.windowEndsAt);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export function harvestRunner(o: HarvestRunnerOptions): (job: HarvestRunJob, ctx: JobRunContext) => Promise<JobCompletion> {
  return async (job, ctx) => {
    const started = Date.now();
    const windowEndsAt = windowEndOf(job);
    if (windowEndsAt !== undefined && windowEndsAt <= started) return skipped('window-over', 'the harvest window ended before the run started');
    await ctx.enterStage('harvest');
    const entry = siblingModule(__dirname, __filename, 'harvest-child');
    const child = fork(entry, [], { execArgv: loaderArgs(entry), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let last: FromHarvestChild | undefined;
    let totals = NO_PROGRESS;
    let journaledAt = 0;
    // Journey writes go one after another; a failed one is logged, never the end of the harvest.
    let journey = Promise.resolve();
    const journal = (details: Record<string, unknown>) => {
      journey = journey
        .then(() => ctx.journal('harvest-progress', details))
        .catch((e) => void log.warn('harvest: progress not recorded', { jobId: job.id, error: (e as Error).message }));
    };
    child.on('message', (m: FromHarvestChild) => {
      if (m.type !== 'study') {
        last = m;
        return;
      }
      totals = addProgress(totals, m.progress);
      o.metrics?.harvestStudy(m.progress);
      const now = Date.now();
      if (now - journaledAt >= (o.journeyEveryMs ?? 30_000) || m.progress.done === m.progress.of) {
        journaledAt = now;
        journal({ ...totals });
      }
    });
    const state = (s: 'started' | 'paused' | 'resumed' | 'killed', pid: number) => {
      o.metrics?.harvestState(s);
      o.onState?.(s, pid);
    };
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const order: HarvestOrder = { config: o.config, ...(o.folder ? { folder: o.folder } : {}) };
    child.send(order);
    const pid = child.pid ?? 0;
    // The lowest CPU priority: until the next look at the job store pauses it, a live analysis still comes first.
    try {
      os.setPriority(pid, 19);
    } catch (e) {
      log.warn('harvest: could not lower the harvest process priority', { error: (e as Error).message });
    }
    state('started', pid);
    let paused = false;
    let why: 'window' | 'lease' | 'stopping' | undefined;
    // One look at a time (a slow job store must not let two looks pause twice), and the kill reported once: the
    // process exits asynchronously after SIGKILL, and the looks go on until it has.
    let looking = false;
    let killed = false;
    const timer = setInterval(() => {
      if (looking || killed) return;
      looking = true;
      void (async () => {
        try {
          ctx.checkLease();
        } catch {
          why = 'lease';
        }
        if (!why && o.signal?.aborted) why = 'stopping';
        if (!why && windowEndsAt !== undefined && Date.now() >= windowEndsAt) why = 'window';
        if (why) {
          killed = true;
          kill(child);
          return state('killed', pid);
        }
        const live = await o.liveWork().catch(() => 0);
        if (live > 0 && !paused) {
          paused = true;
          child.kill('SIGSTOP');
          log.info('harvest paused: live studies wait', { jobId: job.id, live });
          journal({ state: 'paused', liveStudies: live });
          state('paused', pid);
        } else if (live === 0 && paused) {
          paused = false;
          child.kill('SIGCONT');
          log.info('harvest resumed', { jobId: job.id });
          journal({ state: 'resumed' });
          state('resumed', pid);
        }
      })().finally(() => {
        looking = false;
      });
    }, o.checkEveryMs ?? 500);
    const { code, signal } = await exited.finally(() => clearInterval(timer));
    await journey;
    const timingsMs = { harvest: Date.now() - started };
    o.metrics?.harvestState('ended');
    o.metrics?.harvestRunFinished(timingsMs.harvest / 1000, why ?? last?.type ?? 'died');
    if (why === 'lease') throw new Error(`harvest-run ${job.id}: lease lost; the harvest process was stopped`);
    if (why === 'stopping') throw new JobAbandonedError(`harvest-run ${job.id}: the service is stopping; the harvest process was stopped`);
    if (why === 'window')
      return { kind: 'succeeded', outputs: {}, lesions: [], timingsMs, idempotencyKey: `harvest-run:${job.id}`, seriesInstanceUID: '', modelVersion: '' };
    if (last?.type === 'done') {
      log.info('harvest finished', { jobId: job.id, counts: last.run.counts, studies: totals.studiesDone });
      return { kind: 'succeeded', outputs: {}, lesions: [], timingsMs, idempotencyKey: `harvest-run:${job.id}`, seriesInstanceUID: '', modelVersion: `${last.run.modelVersions.detector}+${last.run.modelVersions.classifier}` };
    }
    if (last?.type === 'failed') return { kind: 'failed', reason: last.reason, message: last.message, transient: last.transient, stage: 'harvest' };
    return { kind: 'failed', reason: 'harvest-died', message: `the harvest process ended (${signal ?? `exit ${code}`}) without a result`, transient: true, stage: 'harvest', died: true };
  };
}

function kill(child: ChildProcess): void {
  // A stopped process only acts on SIGKILL, which it need not be resumed for; the dataset is kill-safe.
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

function skipped(reason: string, message: string): JobCompletion {
  return { kind: 'skipped', reason, message };
}

/** Study analyses queued or running (the harvest yields to them). */
export async function liveStudyWork(store: Pick<JobStore, 'list'>): Promise<number> {
  const [queued, running] = await Promise.all([
    store.list({ kind: 'study-analysis', state: 'queued', limit: 1 }),
    store.list({ kind: 'study-analysis', state: 'running', limit: 1 }),
  ]);
  return queued.length + running.length;
}
