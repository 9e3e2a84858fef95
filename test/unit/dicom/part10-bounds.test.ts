/**
 * The bounds walk before dcmjs (part10-bounds.ts) and the limits on what a header may ask for (limits.ts,
 * instance-header.ts, pixel-data.ts), on small Part 10 files built byte by byte.
 */
import { DicomHeaderError, headerFromDataset } from '../../../src/dicom/instance-header';
import { configureDicomLimits, DEFAULT_DICOM_LIMITS, DicomLimitError, dicomLimits } from '../../../src/dicom/limits';
import { checkPart10Bounds } from '../../../src/dicom/part10-bounds';
import { readPart10 } from '../../../src/dicom/part10';
import { checkPixelDataExtent } from '../../../src/dicom/pixel-data';
import { loadConfig } from '../../../src/config/load';
import { classifyError } from '../../../src/errors';

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const JPEG_LS = '1.2.840.10008.1.2.4.80';

function tag(g: number, e: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16LE(g, 0);
  b.writeUInt16LE(e, 2);
  return b;
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
/** An explicit VR LE element; a long VR gets 2 reserved bytes and a 32-bit length. */
function el(g: number, e: number, vr: string, value: Buffer, len = value.length): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  return Buffer.concat([tag(g, e), Buffer.from(vr, 'latin1'), long ? Buffer.concat([u16(0), u32(len)]) : u16(len), value]);
}
const text = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

function part10(ts: string, dataset: Buffer): Buffer {
  const tsEl = el(0x0002, 0x0010, 'UI', text(ts));
  const meta = Buffer.concat([el(0x0002, 0x0000, 'UL', u32(tsEl.length)), tsEl]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta, dataset]);
}

const UIDS = Buffer.concat([el(0x0008, 0x0018, 'UI', text('1.2.3.4')), el(0x0020, 0x000d, 'UI', text('1.2.3')), el(0x0020, 0x000e, 'UI', text('1.2.3.5'))]);
const ITEM = Buffer.concat([tag(0xfffe, 0xe000), u32(0xffffffff)]);
const ITEM_END = Buffer.concat([tag(0xfffe, 0xe00d), u32(0)]);
const SEQ_END = Buffer.concat([tag(0xfffe, 0xe0dd), u32(0)]);

/** ReferencedImageSequence nested `depth` levels, undefined lengths (explicit VR). */
function nested(depth: number): Buffer {
  const open = Buffer.concat([tag(0x0008, 0x1140), Buffer.from('SQ'), u16(0), u32(0xffffffff), ITEM]);
  return Buffer.concat([...Array(depth).fill(open), ...Array(depth).fill(Buffer.concat([ITEM_END, SEQ_END]))]);
}

afterEach(() => configureDicomLimits());

test('a sound file: native PixelData measured, nesting counted', () => {
  const pixels = el(0x7fe0, 0x0010, 'OW', Buffer.alloc(8 * 8 * 2));
  const file = part10(EXPLICIT, Buffer.concat([nested(3), UIDS, pixels]));
  const b = checkPart10Bounds(file);
  expect(b).toEqual({ transferSyntaxUID: EXPLICIT, pixelData: { bytes: 128 }, maxDepth: 3, length: file.length });
  // A few zero bytes of trailing padding end the dataset (dcmjs would read them as an element and fail).
  const padded = Buffer.concat([file, Buffer.alloc(3)]);
  expect(checkPart10Bounds(padded).length).toBe(file.length);
  expect(readPart10(padded, { headerOnly: false })).toMatchObject({ pixelData: { bytes: 128 } });
  expect(() => checkPart10Bounds(Buffer.concat([file, Buffer.from([1, 2, 3])]))).toThrow(/^truncated: the file ends inside an element header/);
});

test('implicit VR: sequences found by the dictionary, defined lengths walked', () => {
  const uid = Buffer.concat([tag(0x0008, 0x1155), u32(8), text('1.2.3.45')]);
  const item = Buffer.concat([tag(0xfffe, 0xe000), u32(uid.length)]);
  // (0008,1140) is SQ in the dictionary: implicit VR, defined length 8 + item.
  const sq = Buffer.concat([tag(0x0008, 0x1140), u32(item.length + uid.length), item, uid]);
  const b = checkPart10Bounds(part10(IMPLICIT, Buffer.concat([sq, tag(0x7fe0, 0x0010), u32(4), Buffer.alloc(4)])));
  expect(b.maxDepth).toBe(1);
  expect(b.pixelData).toEqual({ bytes: 4 });
});

test('encapsulated PixelData: fragments counted without the offset table', () => {
  const frag = (n: number) => Buffer.concat([tag(0xfffe, 0xe000), u32(n), Buffer.alloc(n)]);
  const pixels = Buffer.concat([tag(0x7fe0, 0x0010), Buffer.from('OB'), u16(0), u32(0xffffffff), frag(0), frag(10), frag(6), SEQ_END]);
  expect(checkPart10Bounds(part10(JPEG_LS, Buffer.concat([UIDS, pixels]))).pixelData).toEqual({ fragments: 2 });
});

test('nesting beyond maxSequenceDepth is refused before dcmjs parses (100000 levels in milliseconds)', () => {
  const ok = part10(EXPLICIT, Buffer.concat([nested(32), UIDS]));
  expect(checkPart10Bounds(ok).maxDepth).toBe(32);
  const deep = part10(EXPLICIT, Buffer.concat([nested(100000), UIDS]));
  expect(() => checkPart10Bounds(deep)).toThrow(DicomLimitError);
  expect(() => checkPart10Bounds(deep)).toThrow(/nested deeper than 32 levels/);
  expect(readPart10(deep, { headerOnly: true })).toMatch(/nested deeper than 32 levels/);
  configureDicomLimits({ maxSequenceDepth: 2 });
  expect(() => checkPart10Bounds(ok)).toThrow(/deeper than 2 levels/);
});

test('an element length past the end of the file is named, as is the sequence that never ends', () => {
  const past = part10(EXPLICIT, Buffer.concat([UIDS, el(0x0010, 0x0010, 'UT', Buffer.alloc(10), 0xfffffff0)]));
  expect(() => checkPart10Bounds(past)).toThrow(DicomHeaderError);
  expect(readPart10(past, { headerOnly: true })).toBe('truncated: element (0010,0010) says 4294967280 bytes but the file has only 10 left');
  const open = part10(EXPLICIT, Buffer.concat([UIDS, nested(3).subarray(0, 3 * 20 + 8)]));
  expect(() => checkPart10Bounds(open)).toThrow(/^truncated: /);
  const garbage = Buffer.concat([tag(0x0009, 0x1010), Buffer.from('OB'), u16(0), u32(0xffffffff), Buffer.from('garbage garbage!')]);
  expect(() => checkPart10Bounds(part10(EXPLICIT, Buffer.concat([UIDS, garbage])))).toThrow(/^malformed: element \(0009,1010\)/);
});

test('NumberOfFrames and image size beyond the limits throw DicomLimitError before the frame list is built', () => {
  const ds = { SOPInstanceUID: '1.2.3.4', StudyInstanceUID: '1.2.3', SeriesInstanceUID: '1.2.3.5', Rows: 512, Columns: 512 };
  const t = Date.now();
  const e = (() => {
    try {
      headerFromDataset({ ...ds, NumberOfFrames: '100000000' });
    } catch (x) {
      return x;
    }
  })();
  expect(Date.now() - t).toBeLessThan(1000); // building 1e8 frame headers takes tens of seconds and gigabytes
  expect(e).toBeInstanceOf(DicomLimitError);
  expect(classifyError(e)).toMatchObject({ reason: 'file-too-complex', transient: false, bug: false });
  expect(() => headerFromDataset({ ...ds, Rows: 65535 })).toThrow(/image size 65535 x 512 exceeds the limit of 4096 x 4096/);
  configureDicomLimits({ maxFrames: 100000000 });
  expect(dicomLimits()).toEqual({ ...DEFAULT_DICOM_LIMITS, maxFrames: 100000000 });
  expect(() => configureDicomLimits({ maxRows: 0 })).toThrow(RangeError);
});

test('what the header says of the pixel data is checked against what the file holds', () => {
  const h = { rows: 512, columns: 512, bitsAllocated: 16, samplesPerPixel: 1, numberOfFrames: 1, transferSyntaxUID: EXPLICIT };
  expect(() => checkPixelDataExtent(h, { bytes: 524288 })).not.toThrow();
  expect(() => checkPixelDataExtent(h, { bytes: 524289 })).not.toThrow(); // a pad byte
  expect(() => checkPixelDataExtent({ ...h, numberOfFrames: 2 }, { bytes: 524288 })).toThrow(/^truncated: pixel data needs 1048576 bytes/);
  expect(() => checkPixelDataExtent({ ...h, rows: 256 }, { bytes: 524288 })).toThrow(/the header does not describe the data/);
  expect(() => checkPixelDataExtent(h, undefined)).toThrow(/no pixel data/);
  expect(() => checkPixelDataExtent({ ...h, rows: 0, columns: 0 }, undefined)).not.toThrow(); // not an image
  const jls = { ...h, transferSyntaxUID: JPEG_LS, numberOfFrames: 3 };
  expect(() => checkPixelDataExtent(jls, { fragments: 3 })).not.toThrow();
  expect(() => checkPixelDataExtent(jls, { fragments: 2 })).toThrow(/NumberOfFrames 3 but the pixel data holds only 2 fragments/);
  expect(() => checkPixelDataExtent(jls, { bytes: 100 })).toThrow(/not encapsulated/);
});

test('the limits are set from the configuration (dicom.*, LENS__DICOM__*) when it is loaded', () => {
  loadConfig({ env: { LENS__DICOM__MAXFRAMES: '7', LENS__DICOM__MAXSEQUENCEDEPTH: '4' } });
  expect(dicomLimits()).toEqual({ ...DEFAULT_DICOM_LIMITS, maxFrames: 7, maxSequenceDepth: 4 });
  loadConfig({ env: {} });
  expect(dicomLimits()).toEqual(DEFAULT_DICOM_LIMITS);
});
