/**
 * Time windows for QIDO-RS polling. Each window starts `lookback` before the end of the previous one (or before
 * now on the first poll), so consecutive windows overlap and a study at a boundary is always seen; duplicates
 * are absorbed by the job store. StudyDate matching is by day, so the query covers whole days.
 */
export interface PollWindow {
  from: Date;
  to: Date;
  /** QIDO-RS StudyDate range, inclusive days in local time: YYYYMMDD-YYYYMMDD. */
  studyDate: string;
}

export function pollWindow(now: Date, previousEnd: Date | undefined, lookbackMinutes: number): PollWindow {
  const anchor = previousEnd && previousEnd < now ? previousEnd : now;
  const from = new Date(anchor.getTime() - lookbackMinutes * 60000);
  return { from, to: now, studyDate: `${dicomDate(from)}-${dicomDate(now)}` };
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
