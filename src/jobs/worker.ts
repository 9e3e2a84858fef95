/**
 * Workers: `concurrency` loops that lease due jobs from the store, run them, and report the outcome. A pool claims
 * only the kinds of job it has a runner for. The lease is renewed on a timer while the job runs; the job's code
 * asks checkLease() between its steps and stops when the last renewal failed (the store said the job is no longer
 * ours, or could not be reached: either way another worker may take the job once the lease runs out). If this
 * process dies, the lease expires and another worker takes the job (worker-lost). A study analysis itself runs in
 * a child process (src/worker/analysis-pool.ts): the pool and its lease stay here, in the service.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { LensError } from '../errors';
import { log } from '../log';
import { JobStoreUnavailableError, LeaseLostError } from './errors';
import type { Job, JobCompletion, JobKind, JobOfKind, JobStore, JourneyEventName, StudyInfo } from './types';

export interface JobRunContext {
  journal(event: JourneyEventName, details?: Record<string, unknown>): Promise<void>;
  /** Records in the store, before the stage runs, that the job enters it (JobStore.enterStage). */
  enterStage(stage: string): Promise<void>;
  /** Records what the dashboard shows of the job's study (JobStore.recordStudy). */
  recordStudy?(study: StudyInfo): Promise<void>;
  /** Throws LeaseLostError when the last lease renewal failed: the job may belong to someone else now. */
  checkLease(): void;
}

/**
 * A runner gave the job up without an outcome because the service is stopping (e.g. its analysis process was
 * ended): nothing is recorded, the job is taken up again once its lease expires (worker-lost, never a death).
 */
export class JobAbandonedError extends LensError {
  constructor(message: string) {
    super(message, 'service-stopping', true);
  }
}

export type JobRunner<K extends JobKind> = (job: JobOfKind<K>, ctx: JobRunContext) => Promise<JobCompletion>;
export type JobRunners = { [K in JobKind]?: JobRunner<K> };

export interface WorkerPoolOptions {
  store: JobStore;
  concurrency: number;
  leaseMs: number;
  /** How often the lease of a running job is renewed (default: a third of leaseMs). */
  renewEveryMs?: number;
  /** How often an idle worker looks for due jobs (enqueue also wakes them). */
  pollMs?: number;
  runners: JobRunners;
  onFinished?(job: Job, result: JobCompletion): void;
  owner?: string;
  /** This node's name (ClaimOptions.node): jobs whose input is on another node's disk are left to it. */
  node?: string;
}

export class WorkerPool {
  readonly owner: string;
  private readonly kinds: JobKind[];
  private running = false;
  private loops: Promise<void>[] = [];
  private wakers = new Set<() => void>();

  constructor(private readonly o: WorkerPoolOptions) {
    this.owner = o.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.kinds = (Object.keys(o.runners) as JobKind[]).filter((k) => o.runners[k]);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [];
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop(i));
    log.info('workers started', { owner: this.owner, concurrency: this.o.concurrency, kinds: this.kinds });
  }

  /** Look for work now (after an enqueue). */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Stops claiming; waits up to `graceMs` for running jobs (unfinished ones are taken over after their lease). */
  async stop(graceMs = 30000): Promise<void> {
    this.running = false;
    this.wake();
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.loops), new Promise((r) => (t = setTimeout(r, graceMs)))]);
    clearTimeout(t);
  }

  private async loop(index: number): Promise<void> {
    while (this.running) {
      let job: Job | undefined;
      try {
        job = await this.o.store.claim(this.owner, this.o.leaseMs, { kinds: this.kinds, node: this.o.node });
      } catch (e) {
        // A full or unavailable store is logged by the service's intake gate (once, then once a minute), not here every second.
        if (e instanceof JobStoreUnavailableError) log.debug('claim failed: job store unavailable', { worker: index, reason: e.reason });
        else log.error('claim failed', { worker: index, error: (e as Error).message });
      }
      if (!job) {
        await this.idle(this.o.pollMs ?? 1000);
        continue;
      }
      await this.execute(job);
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async execute(job: Job): Promise<void> {
    const { store } = this.o;
    const lease = this.keepLease(job.id);
    log.info('job started', { jobId: job.id, kind: job.kind, studyInstanceUID: job.studyInstanceUID, attempt: job.attempts });
    try {
      const ctx: JobRunContext = {
        journal: (event, details) => store.addJourney(job.id, event, details),
        enterStage: (stage) => store.enterStage(job.id, this.owner, stage),
        recordStudy: (study) => store.recordStudy(job.id, this.owner, study),
        checkLease: () => {
          if (!lease.held()) throw new LeaseLostError(`lease of job ${job.id} lost`);
        },
      };
      const result = await this.runnerFor(job)(ctx);
      const after = await store.complete(job.id, this.owner, result);
      log.info('job finished', { jobId: job.id, kind: job.kind, studyInstanceUID: job.studyInstanceUID, state: after.state, reason: after.reason });
      this.o.onFinished?.(after, result);
    } catch (e) {
      if (e instanceof LeaseLostError) log.warn('job abandoned: lease lost', { jobId: job.id });
      else if (e instanceof JobAbandonedError) log.warn('job abandoned', { jobId: job.id, why: e.message });
      else log.error('job crashed', { jobId: job.id, error: (e as Error).message });
    } finally {
      lease.stop();
    }
  }

  private runnerFor(job: Job): (ctx: JobRunContext) => Promise<JobCompletion> {
    const r = this.o.runners;
    switch (job.kind) {
      case 'study-analysis':
        if (r['study-analysis']) return (ctx) => r['study-analysis']!(job, ctx);
        break;
      case 'harvest-run':
        if (r['harvest-run']) return (ctx) => r['harvest-run']!(job, ctx);
        break;
    }
    // claim() asked only for the kinds with a runner.
    throw new Error(`job ${job.id}: no runner for kind ${job.kind}`);
  }

  /** Renews the lease until stopped; held() is the outcome of the last renewal (the claim counts as the first). */
  private keepLease(jobId: number): { held(): boolean; stop(): void } {
    const { store, leaseMs } = this.o;
    const every = this.o.renewEveryMs ?? Math.max(200, Math.floor(leaseMs / 3));
    let held = true;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const renew = async () => {
      try {
        held = await store.renewLease(jobId, this.owner, leaseMs);
        if (!held) log.warn('lease lost: the job was taken over', { jobId });
      } catch (e) {
        held = false;
        log.warn('lease renewal failed', { jobId, error: (e as Error).message });
      }
      if (!stopped) timer = setTimeout(renew, every);
    };
    timer = setTimeout(renew, every);
    return {
      held: () => held,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }
}
