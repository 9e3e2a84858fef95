/**
 * What happens to a received study after its instances are on disk: it is complete when no instance arrived for
 * `quietMs` (there is no "study finished" message in C-STORE), then one study-analysis job (source 'dimse') is
 * enqueued with the folder in its payload; when that job has ended, the folder is removed (or kept, per
 * `keepReceived`). Instances that arrive after the job was enqueued are not lost: once the job has ended, the study
 * goes quiet again and is enqueued again. Everything it decides is on disk (received-files.ts), so a restart
 * resumes each study where it was: still quiet-waiting, waiting for its job, or to be cleaned up.
 */
import { ACTIVE_STATES, type EnqueueResult, type JobStore, type StudyAnalysisRequest } from '../jobs/types';
import { log } from '../log';
import type { ReceivedFiles } from './received-files';

export type KeepReceived = 'never' | 'failed' | 'always';

export interface StudyTrackerOptions {
  files: ReceivedFiles;
  store: Pick<JobStore, 'get'>;
  /** The service's enqueue (metrics, intake gate, wakes the workers). */
  enqueue(req: StudyAnalysisRequest): Promise<EnqueueResult>;
  quietMs: number;
  keepReceived: KeepReceived;
  maxStudyBytes: number;
  maxTotalBytes: number;
  /** The node whose disk holds the files (node.name), named in the job so that only it claims the job; unset when shared. */
  receivedBy?: string;
  /** How often studies are looked at (default: a quarter of quietMs, 100 ms to 1 s). */
  tickMs?: number;
}

interface TrackedStudy {
  bytes: number;
  files: number;
  lastReceivedAt: number;
  jobId?: number;
  enqueuedAt?: number;
  /** Its job ended and the files are kept (keepReceived): no longer polled until an instance arrives. */
  kept?: boolean;
}

export class ReceivedStudyTracker {
  private readonly studies = new Map<string, TrackedStudy>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private lastEnqueueErrorLogAt = 0;

  constructor(private readonly o: StudyTrackerOptions) {}

  /** Bytes of every received study on disk. */
  get totalBytes(): number {
    let n = 0;
    for (const s of this.studies.values()) n += s.bytes;
    return n;
  }

  /** Resumes from disk, then looks at the studies on a timer. */
  async start(): Promise<void> {
    await this.o.files.prepare();
    for (const d of await this.o.files.list()) {
      if (d.files === 0 && !d.marker) {
        await this.o.files.remove(d.studyInstanceUID);
        continue;
      }
      this.studies.set(d.studyInstanceUID, {
        bytes: d.bytes, files: d.files, lastReceivedAt: d.newestAt, jobId: d.marker?.jobId, enqueuedAt: d.marker?.enqueuedAt,
      });
    }
    if (this.studies.size) {
      log.info('received DICOM studies found at start', {
        studies: this.studies.size, enqueued: [...this.studies.values()].filter((s) => s.jobId !== undefined).length,
      });
    }
    const every = this.o.tickMs ?? Math.min(1000, Math.max(100, this.o.quietMs / 4));
    const tick = () => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        if (this.timer) this.timer = setTimeout(tick, every);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  /**
   * Stores one received instance under the study's lock (no cleanup of the study runs meanwhile), unless the
   * study or the folder would grow beyond its quota: then the refusal, and nothing is stored.
   */
  admit(studyInstanceUID: string, bytes: number, commit: () => Promise<void>): Promise<string | undefined> {
    return this.locked(studyInstanceUID, async () => {
      const s = this.studies.get(studyInstanceUID);
      const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;
      if ((s?.bytes ?? 0) + bytes > this.o.maxStudyBytes) return `the study would exceed dimse.maxStudyMb (${mb(this.o.maxStudyBytes)})`;
      if (this.totalBytes + bytes > this.o.maxTotalBytes) return `received studies would exceed dimse.maxTotalMb (${mb(this.o.maxTotalBytes)})`;
      await commit();
      const t = s ?? { bytes: 0, files: 0, lastReceivedAt: 0 };
      t.bytes += bytes;
      t.files++;
      t.lastReceivedAt = Date.now();
      t.kept = false;
      this.studies.set(studyInstanceUID, t);
      return undefined;
    });
  }

  /** One look at every study: enqueue the quiet ones, clean up those whose job ended. */
  async tick(now = Date.now()): Promise<void> {
    for (const uid of [...this.studies.keys()]) {
      try {
        await this.locked(uid, () => this.review(uid, now));
      } catch (e) {
        log.error('received study: review failed', { studyInstanceUID: uid, error: (e as Error).message });
      }
    }
  }

  private async review(uid: string, now: number): Promise<void> {
    const s = this.studies.get(uid);
    if (!s || s.kept) return;
    if (s.jobId !== undefined) {
      const job = await this.o.store.get(s.jobId);
      if (job && ACTIVE_STATES.includes(job.state)) return;
      // Its job scanned the folder before these arrived, or the job is gone (a new job store): enqueue again.
      if (!job || s.lastReceivedAt > (s.enqueuedAt ?? 0)) {
        s.jobId = s.enqueuedAt = undefined;
        return;
      }
      const keep = this.o.keepReceived === 'always' || (this.o.keepReceived === 'failed' && job.state !== 'succeeded' && job.state !== 'skipped');
      if (keep) {
        s.kept = true;
        log.info('received study kept after its job', { studyInstanceUID: uid, jobId: job.id, state: job.state, keepReceived: this.o.keepReceived });
      } else {
        await this.o.files.remove(uid);
        this.studies.delete(uid);
        log.info('received study removed after its job', { studyInstanceUID: uid, jobId: job.id, state: job.state, files: s.files });
      }
      return;
    }
    if (now - s.lastReceivedAt < this.o.quietMs) return;
    let r: EnqueueResult;
    try {
      r = await this.o.enqueue({
        studyInstanceUID: uid,
        source: 'dimse',
        payload: { dimseFolder: this.o.files.relativeStudyDir(uid), ...(this.o.receivedBy ? { receivedBy: this.o.receivedBy } : {}) },
        details: { files: s.files, bytes: s.bytes },
      });
    } catch (e) {
      // Intake closed (disk, store): the files stay and the study is enqueued at a later look.
      if (now - this.lastEnqueueErrorLogAt > 60000) {
        this.lastEnqueueErrorLogAt = now;
        log.warn('received study not enqueued yet', { studyInstanceUID: uid, error: (e as Error).message });
      }
      return;
    }
    s.jobId = r.job.id;
    s.enqueuedAt = now;
    await this.o.files.writeMarker(uid, { jobId: s.jobId, enqueuedAt: now });
    log.info('received study complete: enqueued', { studyInstanceUID: uid, jobId: s.jobId, created: r.created, files: s.files });
  }

  private locked<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(uid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(uid, settled);
    void settled.then(() => {
      if (this.locks.get(uid) === settled) this.locks.delete(uid);
    });
    return next;
  }
}
