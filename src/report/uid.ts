/**
 * Deterministic DICOM UIDs (2.25 form: the decimal of a 128-bit number, PS3.5 B.2).
 *
 * The SR and SEG of one analysis get UIDs derived from what identifies that analysis (source series, model
 * name and version, object role), so that running the same analysis again produces the same SOP Instance UIDs
 * and the PACS replaces the objects instead of collecting copies.
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

/** The UIDs of one analysis' derived objects. */
export interface ReportUids {
  srSeries: string;
  srInstance: string;
  segSeries: string;
  segInstance: string;
  deviceObserver: string;
  dimensionOrganization: string;
}

export function reportUids(sourceSeriesUid: string, model: { name: string; version: string }): ReportUids {
  assertUid(sourceSeriesUid, 'source SeriesInstanceUID');
  const base = [sourceSeriesUid, model.name, model.version];
  return {
    srSeries: deriveUid(...base, 'sr-series'),
    srInstance: deriveUid(...base, 'sr-instance'),
    segSeries: deriveUid(...base, 'seg-series'),
    segInstance: deriveUid(...base, 'seg-instance'),
    // The device is the model, whatever it analyses.
    deviceObserver: deriveUid('lens-pacs device', model.name, model.version),
    dimensionOrganization: deriveUid(...base, 'seg-dimension-organization'),
  };
}
