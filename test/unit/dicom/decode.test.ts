/** decodeFrame on constructed frames: native, RLE, sign handling, and errors that name the transfer syntax. */
import { decodeFrame, DicomDecodeError } from '../../../src/dicom/decode';

const fmt = { rows: 2, columns: 2, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1 };

test('native little endian, signed 16 bit', () => {
  const px = decodeFrame(new Uint8Array(new Int16Array([-1000, 0, 5, 32767]).buffer), '1.2.840.10008.1.2', fmt);
  expect(px).toBeInstanceOf(Int16Array);
  expect(Array.from(px)).toEqual([-1000, 0, 5, 32767]);
});

test('12 bits stored in 16: high bits masked (unsigned) or sign-extended (signed)', () => {
  const raw = new Uint8Array(new Uint16Array([0xf123, 0x0fff, 0x0800, 0x07ff]).buffer);
  expect(Array.from(decodeFrame(raw, '1.2.840.10008.1.2.1', { ...fmt, bitsStored: 12, pixelRepresentation: 0 }))).toEqual([0x123, 0xfff, 0x800, 0x7ff]);
  expect(Array.from(decodeFrame(raw, '1.2.840.10008.1.2.1', { ...fmt, bitsStored: 12 }))).toEqual([0x123, -1, -2048, 2047]);
});

test('RLE: two byte planes, literal and replicate runs', () => {
  // Values 0x0102, 0x0102, 0x0304, 0x0506: high bytes 01 01 03 05, low bytes 02 02 04 06.
  const high = [0xff, 0x01, 0x01, 0x03, 0x05]; // replicate 01 twice, literal 03 05
  const low = [0x03, 0x02, 0x02, 0x04, 0x06];
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + high.length, true);
  const enc = new Uint8Array([...header, ...high, ...low]);
  expect(Array.from(decodeFrame(enc, '1.2.840.10008.1.2.5', { ...fmt, pixelRepresentation: 0 }))).toEqual([0x0102, 0x0102, 0x0304, 0x0506]);
});

test('unsupported and unknown syntaxes name UID and name', () => {
  expect(() => decodeFrame(new Uint8Array(8), '1.2.840.10008.1.2.4.51', fmt)).toThrow(DicomDecodeError);
  expect(() => decodeFrame(new Uint8Array(8), '1.2.840.10008.1.2.4.51', fmt)).toThrow(/1\.2\.840\.10008\.1\.2\.4\.51 \(JPEG Extended/);
  expect(() => decodeFrame(new Uint8Array(8), '1.2.3.4', fmt)).toThrow(/1\.2\.3\.4 \(unknown transfer syntax\)/);
});

test('corrupt compressed data and short native data are DicomDecodeErrors', () => {
  expect(() => decodeFrame(new Uint8Array(100), '1.2.840.10008.1.2.4.70', fmt)).toThrow(/1\.2\.840\.10008\.1\.2\.4\.70.*decoder failed/);
  expect(() => decodeFrame(new Uint8Array(100), '1.2.840.10008.1.2.4.90', fmt)).toThrow(DicomDecodeError);
  expect(() => decodeFrame(new Uint8Array(6), '1.2.840.10008.1.2', fmt)).toThrow(/truncated/);
});
