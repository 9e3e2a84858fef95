import { createHash } from 'node:crypto';

/**
 * A DICOM UID under the 2.25 root (ISO/IEC 9834-8: a decimal 128-bit integer), derived from a hash of the
 * parts, so that a seed always yields the same UIDs and different seeds or parts yield different ones.
 */
export function synthUid(...parts: (string | number)[]): string {
  const digest = createHash('sha256').update(['lens-pacs-synth', ...parts].join('/')).digest();
  // 125 bits keeps the decimal at most 38 digits (UID length 43 <= 64) and well above zero.
  let n = 0n;
  for (let i = 0; i < 16; i++) n = (n << 8n) | BigInt(digest[i]);
  n = (n >> 3n) | (1n << 120n);
  return `2.25.${n.toString()}`;
}
