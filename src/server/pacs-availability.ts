/**
 * Whether the PACS answers, from its readiness probe, run on a timer and on demand (/readyz). While it does not,
 * the workers take no job (claimsWhile): queued studies wait instead of burning attempts against a PACS that is
 * down. When it answers again, the retries that failed during the outage are made due at once (onRecovered), so
 * the work resumes by itself instead of waiting out each job's backoff.
 */
import type { JobStore } from '../jobs/types';
import { log } from '../log';
import { RepeatedWarning } from '../repeated-warning';

export interface ProbeResult {
  ok: boolean;
  detail?: string;
}

export interface PacsAvailabilityOptions {
  probe(): Promise<ProbeResult>;
  everyMs: number;
  /**
   * The PACS answers again after an outage; `failedSince`: the last time it was known to answer before it (retries
   * that failed since then are the outage's).
   */
  onRecovered?(failedSince: number, downForMs: number, now: number): Promise<void> | void;
  clock?: () => number;
}

const OUTAGE_MARGIN_MS = 10000;

export class PacsAvailability {
  private upNow = true;
  private lastOkAt: number;
  private downSince?: number;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<ProbeResult>;
  private stopped = true;
  private readonly down = new RepeatedWarning('the PACS does not answer its readiness probe: workers wait for it');

  constructor(private readonly o: PacsAvailabilityOptions) {
    this.lastOkAt = this.now();
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  /** True unless the last probe failed. */
  get up(): boolean {
    return this.upNow;
  }

  /** Probes now (one probe at a time: concurrent callers share it) and updates the state. */
  check(): Promise<ProbeResult> {
    this.inFlight ??= this.probeOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async probeOnce(): Promise<ProbeResult> {
    let r: ProbeResult;
    try {
      r = await this.o.probe();
    } catch (e) {
      r = { ok: false, detail: (e as Error).message };
    }
    const now = this.now();
    if (!r.ok) {
      if (this.upNow) this.downSince = now;
      this.upNow = false;
      this.down.failed(r.detail ?? 'not ready', { downForSeconds: Math.round((now - (this.downSince ?? now)) / 1000) });
      return r;
    }
    // A PACS that is shutting down may still answer the probe while it drops the requests of running jobs: a
    // margin before its last good answer takes their failures in too (resuming one more retry early is harmless).
    const failedSince = this.lastOkAt - Math.max(this.o.everyMs, OUTAGE_MARGIN_MS);
    const downSince = this.downSince;
    this.lastOkAt = now;
    if (!this.upNow) {
      this.upNow = true;
      this.downSince = undefined;
      this.down.succeeded();
      try {
        await this.o.onRecovered?.(failedSince, now - (downSince ?? now), now);
      } catch (e) {
        log.error('resuming jobs after the PACS outage failed', { error: (e as Error).message });
      }
    }
    return r;
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      void this.check().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.o.everyMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }
}

/**
 * The store as the workers see it: claim() finds nothing while `open()` is false (the PACS is down), every other
 * method is the store's own.
 */
export function claimsWhile(store: JobStore, open: () => boolean): JobStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'claim') return (...args: Parameters<JobStore['claim']>) => (open() ? target.claim(...args) : Promise.resolve(undefined));
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** After an outage: the retries it caused are due now; each gets a `resumed` journey event. */
export async function resumeAfterOutage(store: Pick<JobStore, 'redrive'>, failedSince: number, downForMs: number, now = Date.now()): Promise<number[]> {
  const details = { why: 'the PACS answers again', downForSeconds: Math.round(downForMs / 1000) };
  const ids = await store.redrive({ state: 'failed-retrying', failedSince, details }, now);
  log.info('the PACS answers again: jobs resumed', { jobs: ids.length, downForSeconds: Math.round(downForMs / 1000) });
  return ids;
}
