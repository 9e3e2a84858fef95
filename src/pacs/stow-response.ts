/**
 * Reading a STOW-RS response. The body, not the HTTP status, says what was stored: Orthanc's DICOMweb plugin 1.7
 * answers 200 with a FailedSOPSequence (0008,1198) for some failures, 409 for others, and 400 with both sequences
 * empty when it could not parse a part at all (it silently skips that part). So the instances we sent are matched
 * against ReferencedSOPSequence (0008,1199): anything sent and neither referenced nor listed as failed is a failure
 * too.
 */
import type { FailedInstance } from './errors';

export interface StoredInstance {
  sopInstanceUID: string;
  sopClassUID?: string;
  /** RetrieveURL (0008,1190) of the stored instance, when the server gives it. */
  retrieveUrl?: string;
}

export interface StoreResult {
  stored: StoredInstance[];
  failed: FailedInstance[];
}

/** What we know of one part we sent, read from its Part 10 meta header. */
export interface SentInstance {
  index: number;
  sopInstanceUID?: string;
  /** Why the part is not readable as Part 10, when it is not. */
  problem?: string;
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>;

// Failure Reason (0008,1197) values of PS3.18 / PS3.4 that servers use in STOW-RS responses.
const FAILURE_REASONS: Record<number, string> = {
  0x0110: 'processing failure',
  0x0112: 'no such object instance',
  0x0119: 'class-instance conflict',
  0x0122: 'SOP class not supported',
  0x0124: 'not authorized',
  0x0131: 'duplicate transaction UID',
  0xa700: 'out of resources',
  0xa770: 'out of resources (unable to perform sub-operations)',
  0xa900: 'data set does not match SOP class',
  0xc000: 'cannot understand',
  0xc122: 'referenced transfer syntax not supported',
  0xc123: 'referenced SOP class not supported',
};

export function describeFailureReason(code: number | undefined): string {
  if (code === undefined) return 'failed (no reason given)';
  const hex = `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `${FAILURE_REASONS[code] ?? 'failure'} (${hex})`;
}

function items(ds: DicomJson, tag: string): DicomJson[] {
  return (ds?.[tag]?.Value as DicomJson[] | undefined) ?? [];
}
function first<T>(ds: DicomJson, tag: string): T | undefined {
  return ds?.[tag]?.Value?.[0] as T | undefined;
}

/**
 * Combines the response body (DICOM JSON, or undefined when there was none) with what was sent.
 * `httpStatus` goes into the reason of parts the server skipped silently.
 */
export function interpretStowResponse(body: unknown, sent: SentInstance[], httpStatus: number): StoreResult {
  const ds = (body && typeof body === 'object' ? body : {}) as DicomJson;
  const stored: StoredInstance[] = items(ds, '00081199').map((it) => ({
    sopInstanceUID: first<string>(it, '00081155') ?? '',
    sopClassUID: first<string>(it, '00081150'),
    retrieveUrl: first<string>(it, '00081190'),
  }));
  const failed: FailedInstance[] = items(ds, '00081198').map((it) => {
    const failureCode = first<number>(it, '00081197');
    return {
      sopInstanceUID: first<string>(it, '00081155'),
      sopClassUID: first<string>(it, '00081150'),
      failureCode,
      reason: `${describeFailureReason(failureCode)}, HTTP ${httpStatus}`,
    };
  });
  const accounted = new Set([...stored.map((s) => s.sopInstanceUID), ...failed.map((f) => f.sopInstanceUID)]);
  for (const s of sent) {
    if (s.sopInstanceUID && accounted.has(s.sopInstanceUID)) continue;
    failed.push({
      sopInstanceUID: s.sopInstanceUID ?? `part #${s.index + 1}`,
      reason: s.problem
        ? `${s.problem}; the server did not store it (HTTP ${httpStatus})`
        : `missing from the server's STOW-RS response: not stored (HTTP ${httpStatus})`,
    });
  }
  return { stored, failed };
}

/**
 * Reads the SOP Instance UID from a Part 10 file's meta header (MediaStorageSOPInstanceUID, 0002,0003) without
 * parsing the data set: enough to match the STOW response, and cheap for large images.
 */
export function describePart10(buf: ArrayBuffer, index: number): SentInstance {
  const bytes = new Uint8Array(buf);
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    return { index, problem: 'not a DICOM Part 10 file (no DICM preamble)' };
  }
  const view = new DataView(buf);
  let pos = 132;
  // Group 0002 is always Explicit VR Little Endian.
  while (pos + 8 <= bytes.length) {
    const group = view.getUint16(pos, true);
    if (group !== 0x0002) break;
    const element = view.getUint16(pos + 2, true);
    const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
    let len: number;
    let header: number;
    if (['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr)) {
      len = view.getUint32(pos + 8, true);
      header = 12;
    } else {
      len = view.getUint16(pos + 6, true);
      header = 8;
    }
    if (element === 0x0003) {
      const uid = String.fromCharCode(...bytes.subarray(pos + header, pos + header + len)).replace(/[\0 ]+$/, '');
      return uid ? { index, sopInstanceUID: uid } : { index, problem: 'empty SOP Instance UID in the meta header' };
    }
    pos += header + len;
  }
  return { index, problem: 'no SOP Instance UID (0002,0003) in the meta header' };
}
