/**
 * What a QIDO-RS poll asks for. QIDO-RS has no standard key for when a study arrived (Orthanc's DICOMweb plugin
 * has none either), only StudyDate, which says when it was acquired. So each poll asks for every study whose
 * StudyDate is on or after a start day, open-ended (a scanner with a clock ahead of ours is still seen), and the
 * job store drops what it already knows. The start day reaches back:
 *   - `studyDateLookbackDays` whole days before today: a study acquired before midnight and sent after it, or one
 *     sent a few days late, is still found;
 *   - `lookbackMinutes` before the end of the previous poll: consecutive windows overlap, and after an outage the
 *     window reaches back to the last poll.
 * A study whose StudyDate is older than that (or empty) is not found by polling; see docs/service.md.
 */
export interface PollWindow {
  from: Date;
  to: Date;
  /** QIDO-RS StudyDate range, open-ended, days in local time: YYYYMMDD- */
  studyDate: string;
}

export function pollWindow(now: Date, previousEnd: Date | undefined, lookbackMinutes: number, studyDateLookbackDays = 0): PollWindow {
  const anchor = previousEnd && previousEnd < now ? previousEnd : now;
  const overlapStart = new Date(anchor.getTime() - lookbackMinutes * 60000);
  const dayStart = new Date(now.getFullYear(), now.getMonth(), now.getDate() - studyDateLookbackDays);
  const from = overlapStart < dayStart ? overlapStart : dayStart;
  return { from, to: now, studyDate: `${dicomDate(from)}-` };
}

export function dicomDate(d: Date): string {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * A polled study is ready when its instance count did not change between two polls (the DICOMweb analogue of
 * Orthanc's StableAge).
 */
export function isStable(previousCount: number | undefined, count: number): boolean {
  return previousCount !== undefined && count > 0 && previousCount === count;
}
