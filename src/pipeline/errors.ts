/**
 * How a failure is handled is decided by the one table in src/errors.ts (classifyError): transient failures (PACS
 * unreachable, 408/429/502-504, timeouts) are retried with backoff; everything else (corrupt data, rejected
 * objects, bugs) fails the job at once with the reason, because retrying would give the same answer.
 */
import { LensError } from '../errors';

/** Thrown by a stage to end the job as skipped (not a failure): the study needs no analysis. */
export class SkipStudy extends LensError {
  constructor(reason: string, message: string) {
    super(message, reason);
  }
}
