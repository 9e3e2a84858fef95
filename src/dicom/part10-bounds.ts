/**
 * A walk over the raw bytes of a Part 10 file, before dcmjs parses it: every element length is checked against
 * the bytes that remain, sequence nesting against `maxSequenceDepth`, and the extent of PixelData is measured
 * (its byte length when native, its fragment count when encapsulated) so that NumberOfFrames, Rows and Columns
 * can be checked against what the file really holds. dcmjs 0.51 allocates and recurses on what a file says
 * (an element length past the end of the file, a sequence nested 100000 deep), which is why this walk comes
 * first. It allocates nothing and recurses at most twice per nesting level up to the limit, so its cost is a few
 * microseconds per element whatever the file says.
 *
 * It mirrors how dcmjs reads: the file meta group in explicit VR little endian, the dataset in the transfer
 * syntax's encoding; in implicit VR, a tag the dictionary types as SQ or any undefined length is a sequence; an
 * UN of undefined length holds implicit VR content (CP-246). Deflated datasets are not walked (their bytes are
 * compressed); dcmjs inflates them whole.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

import { DicomHeaderError } from './instance-header';
import { DicomLimitError, dicomLimits, type DicomLimits } from './limits';

const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const PIXEL_DATA = 0x7fe00010;

/** What the file holds as PixelData (top level), as far as the bytes tell. */
export interface PixelDataExtent {
  /** Native: the element's value length in bytes. */
  bytes?: number;
  /** Encapsulated: the number of fragments, the Basic Offset Table item not counted. */
  fragments?: number;
}

export interface Part10Bounds {
  transferSyntaxUID?: string;
  /** Absent when the file has no PixelData or its dataset was not walked (deflated). */
  pixelData?: PixelDataExtent;
  /** The deepest sequence nesting met (0: no sequence). */
  maxDepth: number;
  /** Where the dataset ends: before a few zero bytes of trailing padding, which dcmjs would misread as an element. */
  length: number;
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const tagName = (t: number) => `(${hex4(t >>> 16)},${hex4(t & 0xffff)})`;

function truncated(what: string): DicomHeaderError {
  return new DicomHeaderError(`truncated: ${what}`);
}

/**
 * Walks the bytes of a Part 10 file (preamble and DICM already checked by the caller). Throws DicomHeaderError
 * ("truncated: ...", "malformed: ...") for bytes dcmjs could not read safely, DicomLimitError for a file beyond
 * the limits.
 */
export function checkPart10Bounds(
  buf: Uint8Array,
  limits: DicomLimits = dicomLimits(),
  /** Set as the walk goes: the bytes before it are whole top-level elements, checked (readable even when the rest is not). */
  progress: { verifiedUntil: number } = { verifiedUntil: 0 },
): Part10Bounds {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength;
  let little = true;
  let maxDepth = 0;
  let pixelData: PixelDataExtent | undefined;

  const u16 = (p: number) => dv.getUint16(p, little);
  const u32 = (p: number) => dv.getUint32(p, little);
  const tagAt = (p: number) => ((u16(p) << 16) | u16(p + 2)) >>> 0;
  const need = (pos: number, n: number, limit: number, what: () => string) => {
    if (limit - pos < n) throw truncated(what());
  };

  /** Element header at pos: its tag, VR ('' in implicit VR), value length and header size. */
  const header = (pos: number, limit: number, implicit: boolean) => {
    need(pos, 8, limit, () => `the file ends inside an element header at byte ${pos}`);
    const tag = tagAt(pos);
    if (implicit || tag >>> 16 === 0xfffe) return { tag, vr: '', len: u32(pos + 4), size: 8 };
    const vr = String.fromCharCode(buf[pos + 4], buf[pos + 5]);
    if (!LONG_VRS.has(vr)) return { tag, vr, len: u16(pos + 6), size: 8 };
    need(pos, 12, limit, () => `the file ends inside the header of element ${tagName(tag)}`);
    return { tag, vr, len: u32(pos + 8), size: 12 };
  };

  const isSequence = (tag: number, vr: string, len: number, implicit: boolean): boolean => {
    if (vr === 'SQ') return true;
    if (!implicit) return false;
    const known = dcmjs.data.DicomMetaDictionary.dictionary[tagName(tag)];
    return known ? known.vr === 'SQ' : len === UNDEFINED;
  };

  /** Elements from pos to limit, or (itemEnd) to an item delimiter; returns the position after them. */
  const dataset = (pos: number, limit: number, depth: number, implicit: boolean, itemEnd: boolean, top: boolean): number => {
    while (pos < limit) {
      if (top) progress.verifiedUntil = pos;
      if (top && limit - pos < 8 && buf.subarray(pos, limit).every((b) => b === 0)) return pos; // trailing padding
      const h = header(pos, limit, implicit);
      if (h.tag === 0xfffee00d && itemEnd) return pos + 8;
      if (h.tag >>> 16 === 0xfffe) {
        // A stray delimiter (some writers leave one after a sequence of defined length): dcmjs decides.
        pos += 8;
        continue;
      }
      pos += h.size;
      const pixel = top && h.tag === PIXEL_DATA;
      if (h.len === UNDEFINED) {
        if (isSequence(h.tag, h.vr, h.len, implicit) || h.vr === 'UN') pos = items(pos, limit, depth + 1, implicit || h.vr === 'UN', true);
        else {
          const walked = fragments(pos, limit, h.tag);
          if (pixel) pixelData = { fragments: walked.count };
          pos = walked.pos;
        }
        continue;
      }
      if (h.len > limit - pos) {
        throw truncated(`element ${tagName(h.tag)} says ${h.len} bytes but ${itemEnd || top ? 'the file' : 'its sequence item'} has only ${limit - pos} left`);
      }
      if (isSequence(h.tag, h.vr, h.len, implicit)) items(pos, pos + h.len, depth + 1, implicit, false);
      if (pixel) pixelData = { bytes: h.len };
      pos += h.len;
    }
    if (itemEnd) throw truncated('the file ends inside a sequence item (no item delimiter)');
    return pos;
  };

  /** The items of a sequence from pos: to limit (defined length) or to the sequence delimiter. */
  const items = (pos: number, limit: number, depth: number, implicit: boolean, undefinedLength: boolean): number => {
    if (depth > limits.maxSequenceDepth) throw new DicomLimitError(`sequences nested deeper than ${limits.maxSequenceDepth} levels (limit maxSequenceDepth)`);
    maxDepth = Math.max(maxDepth, depth);
    for (;;) {
      if (!undefinedLength && pos === limit) return pos;
      need(pos, 8, limit, () => (undefinedLength ? 'the file ends inside a sequence (no sequence delimiter)' : `a sequence item header at byte ${pos} runs past its sequence`));
      const tag = tagAt(pos);
      const len = u32(pos + 4);
      pos += 8;
      if (tag === 0xfffee0dd) {
        if (undefinedLength) return pos;
        throw new DicomHeaderError(`malformed: a sequence delimiter inside a sequence of defined length at byte ${pos - 8}`);
      }
      if (tag !== 0xfffee000) throw new DicomHeaderError(`malformed: ${tagName(tag)} where a sequence item was expected at byte ${pos - 8}`);
      if (len === UNDEFINED) pos = dataset(pos, limit, depth, implicit, true, false);
      else {
        if (len > limit - pos) throw truncated(`a sequence item says ${len} bytes but only ${limit - pos} are left`);
        dataset(pos, pos + len, depth, implicit, false, false);
        pos += len;
      }
    }
  };

  /** Encapsulated fragments up to the sequence delimiter; count excludes the Basic Offset Table item. */
  const fragments = (pos: number, limit: number, tag: number): { pos: number; count: number } => {
    let count = -1;
    for (;;) {
      need(pos, 8, limit, () => `the file ends inside element ${tagName(tag)} (no sequence delimiter after its fragments)`);
      const t = tagAt(pos);
      const len = u32(pos + 4);
      pos += 8;
      if (t === 0xfffee0dd) return { pos, count: Math.max(count, 0) };
      if (t !== 0xfffee000 || len === UNDEFINED) throw new DicomHeaderError(`malformed: element ${tagName(tag)} of undefined length holds ${tagName(t)} where a fragment was expected`);
      if (len > limit - pos) throw truncated(`a fragment of ${tagName(tag)} says ${len} bytes but the file has only ${limit - pos} left`);
      pos += len;
      count++;
    }
  };

  // File meta group: explicit VR little endian, read as long as the group is 0002 (as dcmjs does).
  let pos = 132;
  let transferSyntaxUID: string | undefined;
  while (pos + 8 <= end && u16(pos) === 0x0002) {
    const h = header(pos, end, false);
    if (h.len === UNDEFINED || h.len > end - pos - h.size) throw truncated(`file meta element ${tagName(h.tag)} says ${h.len} bytes but the file has only ${end - pos - h.size} left`);
    if (h.tag === 0x00020010) transferSyntaxUID = Buffer.from(buf.buffer, buf.byteOffset + pos + h.size, h.len).toString('latin1').replace(/[\0 ]+$/, '');
    pos += h.size + h.len;
  }
  if (transferSyntaxUID === DEFLATED) return { transferSyntaxUID, maxDepth, length: end };
  little = transferSyntaxUID !== EXPLICIT_BE;
  const length = dataset(pos, end, 0, transferSyntaxUID === IMPLICIT_LE, false, true);
  progress.verifiedUntil = length;
  return { transferSyntaxUID, pixelData, maxDepth, length };
}
