import { LensError } from '../errors';

/** The worker no longer holds the job (its lease expired and another worker took it): it must stop quietly. */
export class LeaseLostError extends LensError {
  constructor(message: string) {
    super(message, 'lease-lost');
  }
}

/**
 * The job store cannot take writes now (disk full, I/O error, locked past the busy timeout, read-only). Transient:
 * the work it refused is delivered again (webhook 503, change feed cursor not advanced) once the store heals.
 */
export class JobStoreUnavailableError extends LensError {
  constructor(
    message: string,
    reason: 'store-full' | 'store-unavailable',
    /** The SQLite error code, PostgreSQL SQLSTATE or system error code, for the log. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, reason, true, options);
  }
}
