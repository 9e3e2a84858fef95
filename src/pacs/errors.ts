/** Errors of the DICOMweb client. Each names the URL and says what went wrong in words a PACS administrator reads. */
import { LensError } from '../errors';
import { isTransientStatus } from './retry';

/**
 * The PACS could not be reached (connection refused or reset, timeout) even after the configured retries. Reason
 * `pacs-connection-lost` when the PACS took this very request and went away while handling it (`dropped` tries,
 * retry.ts isDropped): the evidence the PACS-fault rule of the job life cycle (state-machine.ts) counts against the
 * study; `pacs-unreachable` otherwise (refused, timed out: the PACS was down or slow for everyone).
 */
export class PacsUnreachableError extends LensError {
  constructor(
    readonly url: string,
    readonly attempts: number,
    /** The last network failure, e.g. "ECONNREFUSED" or "timeout after 60000 ms". */
    readonly networkError: string,
    /** Tries of this request that the PACS dropped while handling them. */
    readonly dropped = 0,
  ) {
    super(
      `PACS unreachable at ${url} after ${attempts} ${attempts === 1 ? 'try' : 'tries'} (${networkError})${dropped ? `; the PACS dropped the connection while handling ${dropped === 1 ? 'one try' : `${dropped} tries`} of this request` : ''}`,
      dropped ? 'pacs-connection-lost' : 'pacs-unreachable',
      true,
    );
  }
}

/** The PACS answered with an HTTP error status; whether that is transient is the one policy of retry.ts. */
export class PacsHttpError extends LensError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    /** The start of the response body, for the message. */
    readonly body: string,
    readonly attempts = 1,
  ) {
    super(
      `${method} ${url} failed: HTTP ${status}${hint(status)}${body ? `: ${body}` : ''}${attempts > 1 ? ` (after ${attempts} tries)` : ''}`,
      `pacs-http-${status}`,
      isTransientStatus(status),
    );
  }
}

function hint(status: number): string {
  if (status === 401) return ' (unauthorized: check pacs.auth)';
  if (status === 403) return ' (forbidden: the configured user may not do this)';
  if (status === 404) return ' (not found)';
  return '';
}

export interface FailedInstance {
  sopInstanceUID?: string;
  sopClassUID?: string;
  /** Failure Reason (0008,1197), e.g. 0xC000. */
  failureCode?: number;
  reason: string;
}

/** STOW-RS stored some instances but not all (or none); lists every failed instance with its reason. */
export class StoreError extends LensError {
  constructor(
    readonly url: string,
    readonly failed: FailedInstance[],
    readonly storedCount: number,
  ) {
    // The message names the first ten; `failed` holds them all.
    const shown = failed.slice(0, 10).map((f) => `${f.sopInstanceUID ?? '(unknown SOP instance)'}: ${f.reason}`);
    if (failed.length > shown.length) shown.push(`and ${failed.length - shown.length} more`);
    const list = shown.join('; ');
    super(`STOW-RS to ${url}: ${failed.length} instance(s) not stored, ${storedCount} stored: ${list}`, 'store-rejected');
  }
}
