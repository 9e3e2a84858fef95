/** Failures of DICOM networking (src/dimse): the peer, the association, or what it answered. */
import { LensError } from '../errors';

/**
 * A DIMSE exchange that did not succeed. Transient when the peer may do better later (unreachable, refused for
 * now, out of resources); permanent when it refused what we sent (SOP class not supported, invalid object).
 */
export class DimseError extends LensError {
  constructor(message: string, reason: string, transient: boolean, options?: { cause?: unknown }) {
    super(message, reason, transient, options);
  }
}

/** DIMSE status codes (PS3.7 Annex C) lens-pacs answers with or reads. */
export const DIMSE_STATUS = {
  success: 0x0000,
  pending: 0xff00,
  /** C-STORE Refused: Out of Resources (disk watermark, per-study or folder quota). */
  outOfResources: 0xa700,
  /** C-STORE Error: Cannot understand (not a DICOM dataset, no StudyInstanceUID). */
  cannotUnderstand: 0xc000,
  /** Processing failure (our own I/O failed). */
  processingFailure: 0x0110,
} as const;

/** Warnings (0001, Bxxx) mean the peer stored the object (possibly coerced); failures (Axxx, Cxxx, others) did not. */
export function isStoredStatus(status: number): boolean {
  return status === 0 || status === 0x0001 || (status & 0xf000) === 0xb000;
}

/** Out-of-resources and similar refusals heal by themselves; a refused SOP class or a bad object does not. */
export function isTransientStatus(status: number): boolean {
  return (status & 0xff00) === 0xa700 || status === 0x0110 || status === 0x0213 || status === 0x0212;
}

export function hex(status: number): string {
  return `0x${status.toString(16).padStart(4, '0').toUpperCase()}`;
}
