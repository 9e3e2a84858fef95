/**
 * For PACS without a change feed: polls QIDO-RS for studies in an overlapping StudyDate window (poll-window.ts)
 * and enqueues each study once it is stable (same instance count in two polls) and unknown to the job store. A
 * study the store knows is never enqueued again by polling: our own SR/SEG change its instance count, and a
 * re-analysis is asked for through the API.
 */
import { PeriodicPoll, type IntakeSwitch } from './periodic';
import { log } from '../log';
import type { JobStore } from '../jobs/types';
import { isStable, pollWindow } from './poll-window';

export const POLL_CURSOR = 'dicomweb-poll-end';

/** The part of the DICOMweb client the poller needs (DICOM JSON results). */
export interface StudySearch {
  searchStudies(query?: Record<string, string>, opts?: { limit?: number; offset?: number; all?: boolean }): Promise<Record<string, any>[]>;
}

export interface DicomwebPollOptions {
  client: StudySearch;
  store: JobStore;
  intervalMs: number;
  lookbackMinutes: number;
  /** Whole days of StudyDate before today that every poll covers (see pollWindow). */
  studyDateLookbackDays?: number;
  onEnqueued?(created: boolean): void;
  /** Polls are skipped while intake is stopped (the cursor stays: nothing is lost). */
  intake?: IntakeSwitch;
}

export class DicomwebPoller {
  private counts = new Map<string, number>();
  private readonly loop: PeriodicPoll;

  constructor(private readonly o: DicomwebPollOptions) {
    this.loop = new PeriodicPoll('DICOMweb poll', o.intervalMs, () => this.pollOnce(), o.intake);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async pollOnce(now = new Date()): Promise<number> {
    const { store } = this.o;
    const prev = await store.getCursor(POLL_CURSOR);
    const w = pollWindow(now, prev ? new Date(prev) : undefined, this.o.lookbackMinutes, this.o.studyDateLookbackDays);
    const studies = await this.o.client.searchStudies(
      { StudyDate: w.studyDate, includefield: '00201208' },
      { all: true },
    );
    let enqueued = 0;
    const seen = new Map<string, number>();
    for (const s of studies) {
      const uid = s['0020000D']?.Value?.[0] as string | undefined;
      if (!uid) continue;
      const count = Number(s['00201208']?.Value?.[0] ?? 0);
      seen.set(uid, count);
      if ((await store.hasJobForStudy(uid)) || !isStable(this.counts.get(uid), count)) continue;
      const { created, job } = await store.enqueue({ studyInstanceUID: uid, source: 'poll', details: { window: w.studyDate } });
      log.info('poll event', { jobId: job.id, studyInstanceUID: uid, created });
      this.o.onEnqueued?.(created);
      enqueued++;
    }
    this.counts = seen;
    log.debug('DICOMweb poll', { studyDate: w.studyDate, studies: studies.length, enqueued });
    await store.setCursor(POLL_CURSOR, w.to.toISOString());
    return enqueued;
  }
}
