/**
 * Deterministic DICOM UIDs (2.25 form: the decimal of a 128-bit number, PS3.5 B.2), derived from what identifies
 * the object, so that the same input always yields the same UID (re-running an analysis replaces its objects).
 */
import { createHash } from 'node:crypto';

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/** 2.25.<decimal of the first 128 bits of SHA-256 over the parts>. */
export function deriveUid(...parts: string[]): string {
  if (parts.length === 0 || parts.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new Error(`deriveUid: every part must be a non-empty string (got ${JSON.stringify(parts)})`);
  }
  const digest = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `2.25.${BigInt('0x' + digest.slice(0, 32)).toString(10)}`;
}

export function isValidUid(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length > 0 && uid.length <= 64 && UID_PATTERN.test(uid);
}

export function assertUid(uid: unknown, what: string): string {
  if (!isValidUid(uid)) throw new Error(`${what} is not a valid DICOM UID: ${JSON.stringify(uid)}`);
  return uid;
}
