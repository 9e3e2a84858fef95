/**
 * The Orthanc change feed: reads /changes?since=N&limit=M, enqueues a job for each StableStudy, and keeps the
 * cursor (the last Seq handled) in the job store, so a restart resumes where it stopped. The cursor moves only
 * after the event's job is enqueued; a crash in between replays at most that event, which the store's
 * per-study idempotency absorbs.
 */
import { PeriodicPoll, type IntakeSwitch } from './periodic';
import { log } from '../log';
import type { JobStore } from '../jobs/types';
import { orthancGet, OrthancRestError, type OrthancRestConfig } from './orthanc-rest';
import { UnannouncedStudies } from './unannounced-studies';

export const CHANGE_FEED_CURSOR = 'orthanc-changes';

interface Change {
  ChangeType: string;
  ID: string;
  Path: string;
  ResourceType: string;
  Seq: number;
  Date: string;
}
interface ChangesPage {
  Changes: Change[];
  Done: boolean;
  Last: number;
}

export interface ChangeFeedOptions {
  orthanc: OrthancRestConfig;
  store: JobStore;
  intervalMs: number;
  startFrom: 'now' | 'beginning';
  pageSize?: number;
  /** See EnqueueRequest.mergeWithinMs: the push may have delivered this event already. */
  mergeWithinMs?: number;
  onEnqueued?(created: boolean): void;
  /** Polls are skipped while intake is stopped (the cursor stays: nothing is lost). */
  intake?: IntakeSwitch;
}

export class ChangeFeedListener {
  private readonly loop: PeriodicPoll;
  /** NewStudy without StableStudy yet: recovered when Orthanc restarted before announcing them. */
  private readonly unannounced = new UnannouncedStudies();

  constructor(private readonly o: ChangeFeedOptions) {
    this.loop = new PeriodicPoll('change feed poll', o.intervalMs, () => this.pollOnce(), o.intake);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Reads every change since the cursor; returns how many StableStudy events were enqueued. */
  async pollOnce(): Promise<number> {
    const { store, orthanc } = this.o;
    let cursor = await store.getCursor(CHANGE_FEED_CURSOR);
    if (cursor === undefined) {
      cursor = this.o.startFrom === 'beginning' ? '0' : String((await orthancGet<ChangesPage>(orthanc, '/changes?last')).Last);
      await store.setCursor(CHANGE_FEED_CURSOR, cursor);
      log.info('change feed cursor initialised', { cursor, startFrom: this.o.startFrom });
    }
    let since = Number(cursor);
    let enqueued = 0;
    for (;;) {
      const page = await orthancGet<ChangesPage>(orthanc, `/changes?since=${since}&limit=${this.o.pageSize ?? 100}`);
      for (const c of page.Changes) {
        if (c.ChangeType === 'NewStudy' && c.ResourceType === 'Study') this.unannounced.noteNew(c.ID);
        if (c.ChangeType === 'StableStudy' && c.ResourceType === 'Study') {
          this.unannounced.forget(c.ID);
          if (await this.enqueueStudy(c)) enqueued++;
        }
        since = c.Seq;
        await store.setCursor(CHANGE_FEED_CURSOR, String(since));
      }
      if (page.Done || page.Changes.length === 0) {
        // Orthanc reports Last even when nothing matched; never move backwards.
        if (page.Last > since) {
          since = page.Last;
          await store.setCursor(CHANGE_FEED_CURSOR, String(since));
        }
        for (const id of await this.unannounced.recover((id) => this.isStable(id)))
          if (await this.enqueueStudy({ ID: id, Seq: since }, { lostStableStudy: true })) enqueued++;
        return enqueued;
      }
    }
  }

  /** Orthanc's IsStable of a study; undefined when it no longer exists. */
  private async isStable(orthancStudyId: string): Promise<boolean | undefined> {
    try {
      return (await orthancGet<{ IsStable?: boolean }>(this.o.orthanc, `/studies/${orthancStudyId}`)).IsStable === true;
    } catch (e) {
      if (e instanceof OrthancRestError && e.status === 404) return undefined;
      throw e;
    }
  }

  private async enqueueStudy(c: Pick<Change, 'ID' | 'Seq'>, extra: Record<string, unknown> = {}): Promise<boolean> {
    let uid: string | undefined;
    try {
      const study = await orthancGet<{ MainDicomTags?: { StudyInstanceUID?: string } }>(this.o.orthanc, `/studies/${c.ID}`);
      uid = study.MainDicomTags?.StudyInstanceUID;
    } catch (e) {
      // A study deleted since its event has nothing left to analyse; anything else must be retried (no cursor move).
      if (e instanceof OrthancRestError && e.status === 404) {
        log.info('stable study no longer exists', { orthancStudyId: c.ID, seq: c.Seq });
        return false;
      }
      throw e;
    }
    if (!uid) {
      log.warn('stable study without StudyInstanceUID', { orthancStudyId: c.ID });
      return false;
    }
    const { created, job } = await this.o.store.enqueue({ studyInstanceUID: uid, source: 'changes', details: { orthancStudyId: c.ID, seq: c.Seq, ...extra }, mergeWithinMs: this.o.mergeWithinMs });
    log.info(extra.lostStableStudy ? 'change feed: a study Orthanc never announced as stable (it restarted meanwhile)' : 'change feed event', { jobId: job.id, studyInstanceUID: uid, seq: c.Seq, created });
    this.o.onEnqueued?.(created);
    return true;
  }
}
