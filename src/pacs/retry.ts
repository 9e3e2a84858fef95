/**
 * The one transient policy for HTTP answers of the PACS (DICOMweb and Orthanc's REST API alike): used by the
 * request retries here and by PacsHttpError/OrthancRestError, whose transient flag decides whether the job is
 * retried later. Only failures that a later attempt can cure are transient: no response at all (network errors,
 * timeouts), 408 (the server gave up waiting for us), 429 and the gateway statuses 502/503/504. Every other status
 * is final at once: retrying a 401 only locks accounts and delays the clear message, and Orthanc answers 500 for
 * requests it cannot process (e.g. a transcoding it does not support), which a later try repeats identically.
 */

/** What one failed attempt looked like. status 0 means no HTTP response (network failure or timeout). */
export interface AttemptFailure {
  status: number;
  /** For status 0: the network error code (ECONNREFUSED, ECONNRESET, ...) or "timeout after N ms". */
  networkError?: string;
  /** Seconds from a Retry-After header, when the server sent one. */
  retryAfterSeconds?: number;
}

const TRANSIENT_STATUSES = new Set([408, 429, 502, 503, 504]);

/** Whether an HTTP status from the PACS may turn into success later without any change. */
export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUSES.has(status);
}

export function isTransient(f: AttemptFailure): boolean {
  return f.status === 0 || isTransientStatus(f.status);
}

/**
 * The server took the request and went away while handling it (the connection reset or closed before a complete
 * response), as opposed to refusing the connection (nothing listening: it was down before we asked) or not
 * answering in time. A PACS that crashes on a request drops it this way; so may a stale keep-alive connection once.
 */
export function isDropped(f: AttemptFailure): boolean {
  if (f.status !== 0 || !f.networkError) return false;
  return /^(ECONNRESET|EPIPE|ECONNABORTED|socket hang up)$|connection closed before the response/i.test(f.networkError);
}

export interface BackoffOptions {
  baseMs: number;
  /** Upper bound of one wait. */
  maxMs?: number;
}

/**
 * Wait before retry number `retry` (0 for the first retry): exponential, with "equal jitter" (half fixed, half
 * random) so that many clients failing together do not come back in lockstep, yet each waits at least half the
 * exponential step. A server's Retry-After wins when it is longer, capped at maxMs.
 */
export function backoffDelayMs(retry: number, opts: BackoffOptions, failure?: AttemptFailure, random: () => number = Math.random): number {
  const maxMs = opts.maxMs ?? 30000;
  const step = Math.min(maxMs, opts.baseMs * 2 ** retry);
  const jittered = step / 2 + random() * (step / 2);
  const serverAsks = failure?.retryAfterSeconds !== undefined ? Math.min(maxMs, failure.retryAfterSeconds * 1000) : 0;
  return Math.max(jittered, serverAsks);
}

/** Parses a Retry-After header given in seconds (the HTTP-date form is rare for PACS and ignored). */
export function parseRetryAfter(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  const s = Number(header.trim());
  return Number.isFinite(s) && s >= 0 ? s : undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
