/**
 * Whether the service takes new studies now. Intake (webhook, change feed, DICOMweb polling) stops when the job
 * store's folder or the work dir has less free space than the watermark (before SQLite meets a full disk, as
 * MONAI's Informatics Gateway does), and when a store write failed for lack of resources (disk full, I/O error,
 * locked, read-only). It reopens by itself: a periodic check reads the free space and, while closed, tries a
 * probe write. Nothing is lost meanwhile: the webhook answers 503 and the feeds keep their cursors, so every
 * refused event is delivered again once the gate reopens.
 */
import fs from 'node:fs';
import { JobStoreUnavailableError } from '../jobs/errors';
import type { JobStore } from '../jobs/types';
import { log } from '../log';

export const INTAKE_CLOSED_REASONS = ['disk-low', 'store-full', 'store-unavailable'] as const;
export type IntakeClosedReason = (typeof INTAKE_CLOSED_REASONS)[number];

export type IntakeState = { open: true } | { open: false; reason: IntakeClosedReason; detail: string; since: number };

/** A folder whose free space is watched, with a short name for logs and metrics (no paths leave the service). */
export interface WatchedVolume {
  name: string;
  folder: string;
}

/** The cursor the probe write updates: a one-row write that fails exactly when any enqueue would. */
export const STORE_PROBE_CURSOR = 'store-probe';

export interface IntakeGateOptions {
  store: Pick<JobStore, 'setCursor'>;
  volumes: WatchedVolume[];
  /** Intake stops below this many free bytes on any volume (0: no watermark). */
  minFreeBytes: number;
  checkEveryMs: number;
  /** Free bytes for an unprivileged user at `folder` (default: fs.statfs). */
  freeBytes?(folder: string): Promise<number>;
  /** While intake is stopped, at most one reminder log line per this many ms (default 60 s). */
  logEveryMs?: number;
}

async function statfsFreeBytes(folder: string): Promise<number> {
  const s = await fs.promises.statfs(folder);
  return s.bavail * s.bsize;
}

export class IntakeGate {
  private current: IntakeState = { open: true };
  private readonly free = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private lastLogAt = 0;

  constructor(private readonly o: IntakeGateOptions) {}

  get state(): IntakeState {
    return this.current;
  }

  isOpen(): boolean {
    return this.current.open;
  }

  /** The free bytes last measured, by volume name. */
  freeBytes(): ReadonlyMap<string, number> {
    return this.free;
  }

  /**
   * Hands over an error from a store write on the intake path (or anywhere): a resource failure closes the gate
   * at once. Returns true when `e` was such a failure (the caller refuses the event for now; it comes back).
   */
  report(e: unknown): boolean {
    if (!(e instanceof JobStoreUnavailableError)) return false;
    this.close(e.reason as IntakeClosedReason, e.message);
    return true;
  }

  /** Measures free space; probes the store with a write while closed (and every time: it finds a full store early). */
  check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => (this.checking = undefined));
    return this.checking;
  }

  start(): void {
    const tick = () =>
      void this.check().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.o.checkEveryMs);
      });
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  private async checkOnce(): Promise<void> {
    const measure = this.o.freeBytes ?? statfsFreeBytes;
    for (const v of this.o.volumes) {
      try {
        const free = await measure(v.folder);
        this.free.set(v.name, free);
        if (free < this.o.minFreeBytes) {
          const mb = (n: number) => `${Math.floor(n / 2 ** 20)} MB`;
          return this.close('disk-low', `${v.name} volume has ${mb(free)} free, below the watermark jobs.minFreeDiskMb (${mb(this.o.minFreeBytes)})`);
        }
      } catch (e) {
        return this.close('store-unavailable', `cannot read the free space of the ${v.name} volume: ${(e as Error).message}`);
      }
    }
    try {
      await this.o.store.setCursor(STORE_PROBE_CURSOR, new Date().toISOString());
    } catch (e) {
      if (!this.report(e)) this.close('store-unavailable', `probe write failed: ${(e as Error).message}`);
      return;
    }
    this.reopen();
  }

  private close(reason: IntakeClosedReason, detail: string): void {
    const was = this.current;
    const now = Date.now();
    this.current = { open: false, reason, detail, since: was.open || was.reason !== reason ? now : was.since };
    if (was.open || was.reason !== reason) {
      this.lastLogAt = now;
      log.error('intake stopped: new studies are refused until the job store can take them (they are delivered again)', { reason, detail });
    } else if (now - this.lastLogAt >= (this.o.logEveryMs ?? 60000)) {
      this.lastLogAt = now;
      log.warn('intake still stopped', { reason, detail, sinceSeconds: Math.round((now - was.since) / 1000) });
    }
  }

  private reopen(): void {
    const was = this.current;
    if (was.open) return;
    this.current = { open: true };
    log.info('intake resumed', { after: was.reason, stoppedSeconds: Math.round((Date.now() - was.since) / 1000) });
  }
}
