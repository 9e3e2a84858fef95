/**
 * Reading DICOM Part 10 bytes with dcmjs, turning its exceptions into short reasons ("not DICOM", "truncated").
 * dcmjs logs validation chatter (odd VRs, short values) through loglevel; it is silenced here because every
 * problem that matters surfaces as a reason or an error of our own.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

import { LensError } from '../errors';
import { checkPart10Bounds, type PixelDataExtent } from './part10-bounds';
import { stripUndefinedLengthUN } from './un-sequences';

const dcm = dcmjs as any;
for (const logger of [dcm.log, ...Object.values(dcm.log?.getLoggers?.() ?? {})]) {
  (logger as any)?.setLevel?.('silent');
}

export interface Part10 {
  dataset: Record<string, any>;
  meta: Record<string, any>;
  transferSyntaxUID: string;
  /** What PixelData really holds (walked before parsing), for checking what the header says against it. */
  pixelData?: PixelDataExtent;
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/**
 * The naturalized dataset, or a reason why the bytes are not a readable Part 10 file. The bytes are walked first
 * (part10-bounds.ts): a file whose lengths run past its end or that nests beyond the limits is refused with the
 * reason before dcmjs sees it.
 */
export function readPart10(buf: Uint8Array, opts: { headerOnly: boolean }): Part10 | string {
  if (buf.byteLength === 0) return 'empty file';
  if (buf.byteLength < 132 || String.fromCharCode(buf[128], buf[129], buf[130], buf[131]) !== 'DICM') {
    return 'not DICOM (no DICM marker at byte 128 of a Part 10 file)';
  }
  let bounds: ReturnType<typeof checkPart10Bounds>;
  try {
    bounds = checkPart10Bounds(buf);
  } catch (e) {
    if (e instanceof LensError) return e.message;
    throw e;
  }
  const readOpts = opts.headerOnly ? { untilTag: '7FE00010', includeUntilTagValue: false } : {};
  let msg: any;
  try {
    msg = dcm.data.DicomMessage.readFile(toArrayBuffer(buf.subarray(0, bounds.length)), readOpts);
  } catch (first) {
    let e = first;
    let stripped: ReturnType<typeof stripUndefinedLengthUN>;
    try {
      stripped = stripUndefinedLengthUN(buf);
    } catch {
      stripped = undefined;
    }
    if (stripped) {
      try {
        msg = dcm.data.DicomMessage.readFile(toArrayBuffer(stripped.bytes), readOpts);
      } catch (again) {
        e = again;
      }
    }
    if (!msg) return reasonFor(e);
  }
  const meta = dcm.data.DicomMetaDictionary.naturalizeDataset(msg.meta);
  const dataset = dcm.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
  return { dataset, meta, transferSyntaxUID: meta.TransferSyntaxUID ?? '1.2.840.10008.1.2', pixelData: bounds.pixelData };
}

/**
 * The UIDs of a file that cannot be read whole, from the part of it that can (the top-level elements before the
 * damage, checked by the bounds walk): a truncated slice is then named as a file of its series, not only as an
 * unreadable file. Empty when even that part cannot be read.
 */
export function identifyPart10(buf: Uint8Array): { seriesInstanceUID?: string; sopInstanceUID?: string } {
  const progress = { verifiedUntil: 0 };
  try {
    checkPart10Bounds(buf, undefined, progress);
  } catch {
    // progress says how far the bytes are sound.
  }
  if (progress.verifiedUntil <= 132) return {};
  try {
    const prefix = toArrayBuffer(buf.subarray(0, progress.verifiedUntil));
    const msg = dcm.data.DicomMessage.readFile(prefix, { untilTag: '7FE00010', includeUntilTagValue: false });
    const ds = dcm.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
    return uidsOf(ds);
  } catch {
    return {};
  }
}

/** SeriesInstanceUID and SOPInstanceUID of a naturalized dataset, when they are strings. */
export function uidsOf(ds: Record<string, unknown>): { seriesInstanceUID?: string; sopInstanceUID?: string } {
  const uid = (v: unknown) => (typeof v === 'string' && v.trim() ? v.replace(/\0/g, '').trim() : undefined);
  return { seriesInstanceUID: uid(ds.SeriesInstanceUID), sopInstanceUID: uid(ds.SOPInstanceUID) };
}

function reasonFor(e: unknown): string {
  const m = String((e as Error)?.message ?? e);
  if (/past end|out of (range|bounds)|beyond|end of (input|buffer)|Offset is outside/i.test(m) || e instanceof RangeError) {
    return `truncated: the file ends inside a DICOM element (${m})`;
  }
  return `unreadable DICOM: ${m}`;
}
