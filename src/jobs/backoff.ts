/** Retry timing for transient failures: exponential, capped, with optional jitter so that workers spread out. */

export interface BackoffPolicy {
  baseSeconds: number;
  maxSeconds: number;
  /** Fraction of the delay randomised (0 = deterministic). */
  jitter?: number;
  /**
   * How long transient failures are retried (from the first failure of a run of them) before a job that has also
   * used up its attempts is dead: long enough to wait out a PACS restart or upgrade (jobs.retryHorizonMinutes).
   */
  horizonMinutes?: number;
}

/** Delay in ms before attempt `attempts + 1`, after `attempts` (>= 1) failed attempts. */
export function backoffMs(attempts: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(p.maxSeconds, p.baseSeconds * 2 ** Math.max(0, attempts - 1));
  const j = p.jitter ?? 0;
  const factor = 1 - j + 2 * j * random();
  return Math.round(exp * factor * 1000);
}
