/**
 * One analysis process as the service sees it: forked with a V8 heap ceiling, loaded with the model once, handed
 * one study at a time, watched for signs of life, and started again after it dies. The service answers the
 * child's calls on the job store (stage entries, journey, earlier results) under its own lease. When the child
 * dies during a job, the job's outcome is an observed death with its cause named (nameDeath): the poison rule of
 * jobs/state-machine.ts counts such deaths, and only those.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import readline from 'node:readline';
import type { LensConfig } from '../config/schema';
import { classifyError, LensError } from '../errors';
import { LeaseLostError } from '../jobs/errors';
import { JobAbandonedError, type JobRunContext } from '../jobs/worker';
import type { Job, JobCompletion, StudyAnalysisJob } from '../jobs/types';
import { log } from '../log';
import type { StudyJobRef } from '../pipeline/run-job';
import { loaderArgs, siblingModule } from './module-entry';
import { currentModelDir } from '../models/registry';
import type { WorkerDevice } from './gpu-devices';
import { ALIVE_EVERY_MS, type ChildCall, type FromChild, type LoadedModel, type ToChild } from './protocol';

export interface AnalysisProcessOptions {
  config: LensConfig;
  /** The model folder the child loads; absent: the registry's current model (currentModelDir) when it is forked. */
  modelDir?: string;
  /** The model's providers and CUDA device for this process (node.gpus: gpu-devices.ts); config.model's when absent. */
  device?: WorkerDevice;
  /** --max-old-space-size of the child, MB. */
  memoryMb: number;
  /** No message from the child for this long while it analyses a study: it is killed as stalled (loading or idle: 2 min at least). */
  stallMs: number;
  findSucceeded(key: string): Promise<StudyAnalysisJob | undefined>;
  /** The study's successful analyses, newest first (a re-analysis supersedes their reports). */
  succeededForStudy?(studyInstanceUID: string): Promise<Job[]>;
}

export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the child wrote to stderr (V8 and native crashes say why there). */
  stderrTail: string;
  /** Set when the watchdog killed it: how long it had been silent. */
  stalledMs?: number;
  memoryMb: number;
  stage: string;
}

const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|Allocation failed|std::bad_alloc|out of memory/i;

/** The cause of a child's death, as the job's reason and message (journey, API, dashboard). */
export function nameDeath(e: ChildEnd): { reason: string; message: string } {
  if (e.stalledMs !== undefined)
    return { reason: 'analysis-stalled', message: `stalled ${Math.round(e.stalledMs / 1000)} s in stage ${e.stage} (no sign of life from the analysis process); killed` };
  if (OUT_OF_MEMORY.test(e.stderrTail))
    return { reason: 'out-of-memory', message: `the analysis process ran out of memory (heap limit ${e.memoryMb} MB) in stage ${e.stage}` };
  if (e.signal)
    return {
      reason: 'analysis-crashed',
      message: `the analysis process was killed by ${e.signal} in stage ${e.stage}${e.signal === 'SIGKILL' ? ' (by the system, e.g. its out-of-memory killer, or by someone else)' : ''}`,
    };
  const last = e.stderrTail.trim().split('\n').at(-1)?.slice(0, 200);
  return { reason: 'analysis-crashed', message: `the analysis process exited with code ${e.code} in stage ${e.stage}${last ? ` (${last})` : ''}` };
}

/** How long a child that runs no job (loading the model, idle) may be silent. */
const LOAD_STALL_MS = 120000;

/** Niceness the child gets above the service's: on a busy machine the service's HTTP answers go first. */
const CHILD_NICENESS = 10;

function lowerPriority(child: ChildProcess): void {
  try {
    os.setPriority(child.pid!, Math.min(19, os.getPriority() + CHILD_NICENESS));
  } catch (e) {
    log.debug('analysis process priority unchanged', { error: (e as Error).message });
  }
}

interface CurrentJob {
  job: StudyJobRef;
  ctx: JobRunContext;
  stage?: string;
  resolve(r: JobCompletion): void;
  reject(e: Error): void;
}

export class AnalysisProcess {
  private child?: ChildProcess;
  private ready?: Promise<LoadedModel>;
  private current?: CurrentJob;
  private lastSign = 0;
  private stderrTail = '';
  private stalledMs?: number;
  private stopping = false;
  private watchdog?: NodeJS.Timeout;
  private closed?: Promise<void>;
  /** Set by retire() while a job runs: called when it has ended. */
  private retiring?: () => void;

  constructor(private readonly o: AnalysisProcessOptions) {}

  get busy(): boolean {
    return !!this.current;
  }

  /** The child's process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Forks the child unless it runs; resolves once its model is loaded. */
  start(): Promise<LoadedModel> {
    if (this.ready) return this.ready;
    const entry = siblingModule(__dirname, __filename, 'analysis-child');
    const child = fork(entry, [], {
      execArgv: [...loaderArgs(entry), `--max-old-space-size=${this.o.memoryMb}`],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child = child;
    lowerPriority(child);
    this.stderrTail = '';
    this.stalledMs = undefined;
    this.lastSign = Date.now();
    readline.createInterface({ input: child.stderr! }).on('line', (line) => this.childLog(child.pid, line));
    this.closed = new Promise((r) => child.once('close', (code, signal) => (this.ended(child, code, signal), r())));
    this.watchdog = setInterval(() => this.watch(child), ALIVE_EVERY_MS);
    const ready = new Promise<LoadedModel>((resolve, reject) => {
      child.on('message', (m: FromChild) => {
        this.lastSign = Date.now();
        if (m.type === 'ready') resolve(m.model);
        else if (m.type === 'init-failed') reject(new LensError(`the analysis process could not load the model: ${m.message}`, 'model-unavailable'));
        else this.onMessage(child, m);
      });
      child.once('close', () => reject(new LensError(`the analysis process ended while loading the model: ${nameDeath(this.end(child.exitCode, child.signalCode)).message}`, 'model-unavailable', true)));
    });
    this.ready = ready;
    // A failed load is final for this child: the next job forks a new one.
    ready.catch(() => child === this.child && child.kill('SIGKILL'));
    this.send(child, { type: 'init', config: this.o.config, device: this.o.device, modelDir: this.o.modelDir ?? currentModelDir(this.o.config) });
    log.info('analysis process started', { pid: child.pid, memoryMb: this.o.memoryMb });
    return ready;
  }

  /** Analyses one study in the child. A death of the child is the outcome `failed` with `died` and its cause. */
  async run(job: StudyJobRef, ctx: JobRunContext): Promise<JobCompletion> {
    if (this.current) throw new Error(`analysis process busy with job ${this.current.job.id}`);
    try {
      await this.start();
    } catch (e) {
      const c = classifyError(e);
      return { kind: 'failed', reason: c.reason, transient: true, message: c.message };
    }
    const child = this.child!;
    return new Promise<JobCompletion>((resolve, reject) => {
      this.current = { job, ctx, resolve, reject };
      this.lastSign = Date.now();
      this.send(child, { type: 'run', job: { id: job.id, studyInstanceUID: job.studyInstanceUID, force: job.force, receivedAt: job.receivedAt, dimseFolder: job.dimseFolder } });
    }).finally(() => {
      this.current = undefined;
      this.retiring?.();
    });
  }

  /**
   * Ends the child once the job it runs (if any) has ended with its outcome, and does not start it again: a model
   * switch (analysis-pool.ts) lets a running analysis finish with the model it started with.
   */
  retire(): Promise<void> {
    if (!this.current) return this.stop();
    return new Promise<void>((resolve) => (this.retiring = () => void this.stop().then(resolve)));
  }

  /** Ends the child (the job it runs, if any, is left to its lease). */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.closed;
    clearTimeout(t);
  }

  private onMessage(child: ChildProcess, m: FromChild): void {
    const cur = this.current;
    switch (m.type) {
      case 'call':
        void this.answer(child, m.id, m.call);
        break;
      case 'done':
        if (cur?.job.id === m.jobId) cur.resolve(m.result);
        break;
      case 'lease-lost':
        if (cur?.job.id === m.jobId) cur.reject(new LeaseLostError(m.message));
        break;
    }
  }

  private async answer(child: ChildProcess, id: number, c: ChildCall): Promise<void> {
    const cur = this.current;
    try {
      let value: unknown;
      if (c.method === 'findSucceeded') value = (await this.o.findSucceeded(c.key)) ?? null;
      else if (c.method === 'succeededForStudy') value = (await this.o.succeededForStudy?.(c.studyInstanceUID)) ?? [];
      else if (!cur) throw new Error('no job is running in this analysis process');
      else if (c.method === 'journal') await cur.ctx.journal(c.event, c.details);
      else if (c.method === 'recordStudy') {
        cur.ctx.checkLease();
        await cur.ctx.recordStudy?.(c.study);
      }
      else {
        cur.ctx.checkLease();
        await cur.ctx.enterStage(c.stage);
        cur.stage = c.stage;
      }
      this.send(child, { type: 'reply', id, value });
    } catch (e) {
      const k = classifyError(e);
      this.send(child, { type: 'reply', id, error: { message: k.message, reason: k.reason, transient: k.transient, leaseLost: e instanceof LeaseLostError } });
    }
  }

  private send(child: ChildProcess, m: ToChild): void {
    if (child.connected) child.send(m, (e) => e && log.debug('message to the analysis process lost', { pid: child.pid, error: e.message }));
  }

  /** The child's log lines (winston JSON on stderr) go to the service's log; anything else to its stderr. */
  private childLog(pid: number | undefined, line: string): void {
    this.stderrTail = (this.stderrTail + line + '\n').slice(-4000);
    let entry: { level?: unknown; message?: unknown; timestamp?: unknown } | undefined;
    try {
      entry = JSON.parse(line);
    } catch {
      /* not a log line */
    }
    if (entry && typeof entry.level === 'string' && typeof entry.message === 'string') {
      const { level, message, timestamp: _t, ...rest } = entry;
      log.log(level, message, { ...rest, analysisPid: pid });
    } else process.stderr.write(`${line}\n`);
  }

  private watch(child: ChildProcess): void {
    const silent = Date.now() - this.lastSign;
    // Loading the model blocks the child's event loop for a while (longer on a busy machine): a job's stall limit
    // applies while a job runs, a generous one otherwise.
    const limit = this.current ? this.o.stallMs : Math.max(this.o.stallMs, LOAD_STALL_MS);
    if (silent > limit && this.stalledMs === undefined && child.exitCode === null && child.signalCode === null) {
      this.stalledMs = silent;
      log.error('analysis process stalled: killing it', { pid: child.pid, silentMs: silent, jobId: this.current?.job.id, stage: this.current?.stage });
      child.kill('SIGKILL');
    }
  }

  private end(code: number | null, signal: NodeJS.Signals | null): ChildEnd {
    return { code, signal, stderrTail: this.stderrTail, stalledMs: this.stalledMs, memoryMb: this.o.memoryMb, stage: this.current?.stage ?? 'claimed' };
  }

  private ended(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    clearInterval(this.watchdog);
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = undefined;
    const cur = this.current;
    if (this.stopping) {
      cur?.reject(new JobAbandonedError('the service stopped its analysis process'));
      return;
    }
    if (!cur) {
      if (code !== 0) log.warn('analysis process ended while idle', { pid: child.pid, code, signal });
      return;
    }
    const { reason, message } = nameDeath(this.end(code, signal));
    log.error('analysis process died', { pid: child.pid, jobId: cur.job.id, studyInstanceUID: cur.job.studyInstanceUID, stage: cur.stage, reason, cause: message });
    cur.resolve({ kind: 'failed', died: true, transient: true, reason, message, ...(cur.stage ? { stage: cur.stage } : {}) });
    // Warm again for the next job (the model loads while the queue waits), unless it is being retired.
    if (!this.retiring) void this.start().catch((e) => this.stopping || log.error('analysis process restart failed', { error: (e as Error).message }));
  }
}
