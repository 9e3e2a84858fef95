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
import cron from 'node-cron';
import type { LensConfig } from '../config/schema';
import type { JobCompletion, JobStore, HarvestRunJob } from '../jobs/types';
import { JobAbandonedError, type JobRunContext } from '../jobs/worker';
import { log } from '../log';
import { loaderArgs, siblingModule } from '../worker/module-entry';
import type { FromHarvestChild, HarvestOrder } from './harvest-child';

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
  /** How often live work, the window and the lease are looked at (default 2 s). */
  checkEveryMs?: number;
  /** Harvest a folder instead of the PACS (tests, offline archives). */
  folder?: string;
  /** Aborted when the service stops: the harvest process is killed and the job left for a later run. */
  signal?: AbortSignal;
  /** Told when the harvest process starts, pauses, resumes or is killed (metrics, tests). */
  onState?(state: 'started' | 'paused' | 'resumed' | 'killed', pid: number): void;
}

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
    let studies = 0;
    child.on('message', (m: FromHarvestChild) => {
      if (m.type === 'study') studies++;
      else last = m;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const order: HarvestOrder = { config: o.config, ...(o.folder ? { folder: o.folder } : {}) };
    child.send(order);
    const pid = child.pid ?? 0;
    o.onState?.('started', pid);
    let paused = false;
    let why: 'window' | 'lease' | 'stopping' | undefined;
    const timer = setInterval(() => {
      void (async () => {
        try {
          ctx.checkLease();
        } catch {
          why = 'lease';
        }
        if (!why && o.signal?.aborted) why = 'stopping';
        if (!why && windowEndsAt !== undefined && Date.now() >= windowEndsAt) why = 'window';
        if (why) {
          kill(child);
          return o.onState?.('killed', pid);
        }
        const live = await o.liveWork().catch(() => 0);
        if (live > 0 && !paused) {
          paused = true;
          child.kill('SIGSTOP');
          log.info('harvest paused: live studies wait', { jobId: job.id, live });
          o.onState?.('paused', pid);
        } else if (live === 0 && paused) {
          paused = false;
          child.kill('SIGCONT');
          log.info('harvest resumed', { jobId: job.id });
          o.onState?.('resumed', pid);
        }
      })();
    }, o.checkEveryMs ?? 2000);
    const { code, signal } = await exited.finally(() => clearInterval(timer));
    const timingsMs = { harvest: Date.now() - started };
    if (why === 'lease') throw new Error(`harvest-run ${job.id}: lease lost; the harvest process was stopped`);
    if (why === 'stopping') throw new JobAbandonedError(`harvest-run ${job.id}: the service is stopping; the harvest process was stopped`);
    if (why === 'window')
      return { kind: 'succeeded', outputs: {}, lesions: [], timingsMs, idempotencyKey: `harvest-run:${job.id}`, seriesInstanceUID: '', modelVersion: '' };
    if (last?.type === 'done') {
      log.info('harvest finished', { jobId: job.id, counts: last.run.counts, studies });
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
