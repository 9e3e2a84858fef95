/**
 * How much work one DICOM input may ask for. Every count, length and depth a file states is checked against these
 * limits and against the file's real size before anything is allocated or parsed recursively: a file is data from
 * a stranger, and one that says "100000000 frames" or nests sequences 100000 deep must cost a clean refusal, not
 * the process (docs/dicom.md, "Limits").
 */
import { LensError } from '../errors';

export interface DicomLimits {
  /**
   * Sequences inside sequences, at most. Real objects stay far below it (an Enhanced CT about 3, a TID 1500 SR
   * about 10); dcmjs parses nesting recursively, so a deeper file is refused before it is parsed.
   */
  maxSequenceDepth: number;
  /** NumberOfFrames at most (a 4D perfusion CT of 320 slices x 30 phases is under 10000). */
  maxFrames: number;
  /** Rows and Columns at most: one decoded frame costs Rows x Columns x 2 bytes before its size can be checked. */
  maxRows: number;
  maxColumns: number;
}

export const DEFAULT_DICOM_LIMITS: Readonly<DicomLimits> = Object.freeze({
  maxSequenceDepth: 32,
  maxFrames: 50000,
  maxRows: 4096,
  maxColumns: 4096,
});

let current: Readonly<DicomLimits> = DEFAULT_DICOM_LIMITS;

/** The limits in force (process-wide: every reader of DICOM, folder or PACS, applies the same). */
export function dicomLimits(): Readonly<DicomLimits> {
  return current;
}

/** Sets the limits in force from the configuration (`dicom.limits`); unset keys keep their default. */
export function configureDicomLimits(overrides: Partial<DicomLimits> = {}): void {
  const merged = { ...DEFAULT_DICOM_LIMITS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  for (const [k, v] of Object.entries(merged)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`DICOM limit ${k} must be a positive integer, got ${v}`);
  }
  current = Object.freeze(merged);
}

/**
 * A file that asks for more work than the limits allow (nesting, frames, image size). Not transient: the same
 * file fails the same way. The message says which limit, never a value of the patient's data.
 */
export class DicomLimitError extends LensError {
  constructor(message: string) {
    super(message, 'file-too-complex', false);
  }
}
