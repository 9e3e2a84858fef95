/** codestreamSize: the size a compressed frame declares, read before a codec allocates for it. */
import { codestreamSize } from '../../../src/dicom/decode/codestream-size';
import { decodeFrame, DicomDecodeError } from '../../../src/dicom/decode';

const be16 = (n: number) => [n >> 8, n & 0xff];
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** SOI, an APP0 segment to skip, then SOFn (P, Y, X, Nf). */
function jpeg(sof: number, width: number, height: number): Uint8Array {
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe0, ...be16(4), 0, 0, 0xff, sof, ...be16(11), 16, ...be16(height), ...be16(width), 1, 1, 0x11, 0]);
}

function j2k(width: number, height: number, x0 = 0, y0 = 0): Uint8Array {
  return new Uint8Array([0xff, 0x4f, 0xff, 0x51, ...be16(41), 0, 0, ...be32(width + x0), ...be32(height + y0), ...be32(x0), ...be32(y0), ...Array(20).fill(0)]);
}

test('JPEG (lossless SOF3, baseline SOF0), JPEG-LS (SOF55) and JPEG 2000 (SIZ less offsets)', () => {
  expect(codestreamSize(jpeg(0xc3, 512, 256))).toEqual({ width: 512, height: 256 });
  expect(codestreamSize(jpeg(0xc0, 64, 32))).toEqual({ width: 64, height: 32 });
  expect(codestreamSize(jpeg(0xf7, 60000, 60000))).toEqual({ width: 60000, height: 60000 });
  expect(codestreamSize(jpeg(0xc3, 512, 0))).toBeUndefined(); // height given later (DNL)
  expect(codestreamSize(j2k(512, 512, 10, 20))).toEqual({ width: 512, height: 512 });
  expect(codestreamSize(new Uint8Array([1, 2, 3, 4, 5]))).toBeUndefined();
});

test('a frame declaring another size than the header is refused before the codec runs', () => {
  const h = { rows: 512, columns: 512, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 0 };
  expect(() => decodeFrame(jpeg(0xf7, 60000, 60000), '1.2.840.10008.1.2.4.80', h)).toThrow(DicomDecodeError);
  expect(() => decodeFrame(j2k(65535, 65535), '1.2.840.10008.1.2.4.90', h)).toThrow(/declares 65535x65535, the header 512x512/);
});
