/**
 * Studies that Orthanc created (NewStudy in its change feed) but never announced as stable. Orthanc keeps the
 * stability timers in memory: when it crashes or restarts within a study's StableAge, the study comes back stable
 * (IsStable true) and no StableStudy is ever written, so neither the push nor the change feed would name it. A
 * PACS that a poison study crashes (docs/service.md, PACS faults) would lose every study arriving meanwhile. The
 * change feed notes each NewStudy here and forgets it at its StableStudy; a study still waiting after GRACE_MS is
 * looked up (at most once per GRACE_MS), and one seen stable on two looks in a row with no StableStudy in between
 * is handed back for analysis. Studies that change after they were stable (new series, no NewStudy) are not
 * covered. Held in memory, bounded: the oldest entries go first.
 */

/** Age before a study waiting for its StableStudy is looked up, and the interval between its looks. */
const GRACE_MS = 5000;
const MAX_ENTRIES = 10000;

interface Waiting {
  since: number;
  lastLook: number;
  /** Seen stable at the previous look, with no StableStudy since. */
  seenStable: boolean;
}

export class UnannouncedStudies {
  private readonly waiting = new Map<string, Waiting>();

  noteNew(orthancStudyId: string, now = Date.now()): void {
    if (this.waiting.has(orthancStudyId)) return;
    if (this.waiting.size >= MAX_ENTRIES) this.waiting.delete(this.waiting.keys().next().value as string);
    this.waiting.set(orthancStudyId, { since: now, lastLook: now, seenStable: false });
  }

  /** The study was announced (or handled): nothing to recover. */
  forget(orthancStudyId: string): void {
    this.waiting.delete(orthancStudyId);
  }

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Looks up the studies due for a look with `isStable` (undefined: the study no longer exists); resolves to the
   * ids to analyse now (forgotten here: the caller enqueues them).
   */
  async recover(isStable: (orthancStudyId: string) => Promise<boolean | undefined>, now = Date.now()): Promise<string[]> {
    const lost: string[] = [];
    for (const [id, w] of [...this.waiting]) {
      if (now - w.lastLook < GRACE_MS) continue;
      w.lastLook = now;
      const stable = await isStable(id);
      if (stable === undefined) this.waiting.delete(id);
      else if (stable && w.seenStable) {
        this.waiting.delete(id);
        lost.push(id);
      } else w.seenStable = stable;
    }
    return lost;
  }
}
