/**
 * For PACS without a change feed: polls QIDO-RS for studies in an overlapping StudyDate window (poll-window.ts)
 * and enqueues each study once it is stable (same instance count in two polls) and unknown to the job store, and
 * again whenever its count has changed and settled since this poller last enqueued it, unless only our own SR/SEG
 * series changed it (listSeries: instances outside our outputs are counted): late slices, a new reconstruction.
 * After a restart a study the store knows is taken at the count it has then; a change during the restart is not
 * seen by polling (the select stage's key decides whether a later event means new work: pipeline/idempotency.ts).
 */
import { PeriodicPoll, type IntakeSwitch } from './periodic';
import { log } from '../log';
import type { JobStore } from '../jobs/types';
import { isStable, pollWindow } from './poll-window';
import { splitOwnOutputs } from '../pipeline/own-outputs';
import type { SeriesSummary } from '../source/study-source';

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
  /** The study's series (QIDO-RS): tells a change of its images from the arrival of our own SR/SEG. */
  listSeries?(studyInstanceUID: string): Promise<SeriesSummary[]>;
}

/** A study's instance count, and the count outside our own outputs when known. */
interface Seen {
  total: number;
  images?: number;
}

export class DicomwebPoller {
  private counts = new Map<string, number>();
  /** The counts at which each study in the window was last enqueued (or found known) by this poller. */
  private enqueuedAt = new Map<string, Seen>();
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

  /** Instances of the study outside our own SR/SEG series (undefined without listSeries). */
  private async imagesOf(uid: string): Promise<number | undefined> {
    if (!this.o.listSeries) return undefined;
    const { others } = splitOwnOutputs(await this.o.listSeries(uid));
    return others.reduce((n, s) => n + (s.numberOfInstances ?? 0), 0);
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
      if (!isStable(this.counts.get(uid), count)) continue;
      const before = this.enqueuedAt.get(uid);
      if (before?.total === count) continue;
      if (before === undefined && (await store.hasJobForStudy(uid))) {
        this.enqueuedAt.set(uid, { total: count });
        continue;
      }
      const images = before ? await this.imagesOf(uid) : undefined;
      if (before?.images !== undefined && before.images === images) {
        // Only our own SR/SEG came or went.
        this.enqueuedAt.set(uid, { total: count, images });
        continue;
      }
      const { created, job } = await store.enqueue({
        studyInstanceUID: uid, source: 'poll',
        details: { window: w.studyDate, instances: count, ...(before ? { instancesBefore: before.total } : {}) },
      });
      this.enqueuedAt.set(uid, { total: count, images: images ?? (await this.imagesOf(uid)) });
      log.info('poll event', { jobId: job.id, studyInstanceUID: uid, created });
      this.o.onEnqueued?.(created);
      enqueued++;
    }
    this.counts = seen;
    for (const uid of [...this.enqueuedAt.keys()]) if (!seen.has(uid)) this.enqueuedAt.delete(uid);
    log.debug('DICOMweb poll', { studyDate: w.studyDate, studies: studies.length, enqueued });
    await store.setCursor(POLL_CURSOR, w.to.toISOString());
    return enqueued;
  }
}
