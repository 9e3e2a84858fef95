/**
 * Workers: `concurrency` loops that lease due jobs from the store, run them, and report the outcome. A lease is
 * renewed while the job runs; if this process dies the lease expires and another worker takes the job.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { log } from '../log';
import { LeaseLostError } from './errors';
import type { Job, JobCompletion, JobStore, JourneyEventName } from './types';

export interface JobRunContext {
  journal(event: JourneyEventName, details?: Record<string, unknown>): void;
  checkLease(): void;
}

export interface WorkerPoolOptions {
  store: JobStore;
  concurrency: number;
  leaseMs: number;
  /** How often an idle worker looks for due jobs (enqueue also wakes them). */
  pollMs?: number;
  run(job: Job, ctx: JobRunContext): Promise<JobCompletion>;
  onFinished?(job: Job, result: JobCompletion): void;
  owner?: string;
}

export class WorkerPool {
  readonly owner: string;
  private running = false;
  private loops: Promise<void>[] = [];
  private wakers = new Set<() => void>();

  constructor(private readonly o: WorkerPoolOptions) {
    this.owner = o.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop(i));
    log.info('workers started', { owner: this.owner, concurrency: this.o.concurrency });
  }

  /** Look for work now (after an enqueue). */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Stops claiming; waits up to `graceMs` for running jobs (unfinished ones are taken over after their lease). */
  async stop(graceMs = 30000): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  private async loop(index: number): Promise<void> {
    while (this.running) {
      let job: Job | undefined;
      try {
        job = this.o.store.claim(this.owner, this.o.leaseMs);
      } catch (e) {
        log.error('claim failed', { worker: index, error: (e as Error).message });
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
    const { store, leaseMs } = this.o;
    let lost = false;
    const renew = setInterval(() => {
      try {
        if (!store.renewLease(job.id, this.owner, leaseMs)) lost = true;
      } catch (e) {
        log.warn('lease renewal failed', { jobId: job.id, error: (e as Error).message });
      }
    }, Math.max(200, Math.floor(leaseMs / 3)));
    log.info('job started', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, attempt: job.attempts });
    try {
      const result = await this.o.run(job, {
        journal: (event, details) => store.addJourney(job.id, event, details),
        checkLease: () => {
          if (lost) throw new LeaseLostError(`lease of job ${job.id} lost`);
        },
      });
      const after = store.complete(job.id, this.owner, result);
      log.info('job finished', { jobId: job.id, studyInstanceUID: job.studyInstanceUID, state: after.state, reason: after.reason });
      this.o.onFinished?.(after, result);
    } catch (e) {
      if (e instanceof LeaseLostError) log.warn('job abandoned: lease lost', { jobId: job.id });
      else log.error('job crashed', { jobId: job.id, error: (e as Error).message });
    } finally {
      clearInterval(renew);
    }
  }
}
