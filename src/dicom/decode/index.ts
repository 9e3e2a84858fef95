/**
 * decodeFrame: one frame's encoded bytes -> its stored values (no rescale), typed by BitsAllocated and
 * PixelRepresentation. Codecs come from libraries (Cornerstone WASM codecs, jpeg-lossless-decoder-js); only RLE is
 * decoded here. See docs/dicom.md for the supported transfer syntaxes.
 */
import type { InstanceHeader } from '../instance-header';
import { NATIVE_LITTLE_ENDIAN, TRANSFER_SYNTAX_NAMES } from '../transfer-syntax';
import { codestreamSize } from './codestream-size';
import { DicomDecodeError } from './errors';
import { decodeJpegLossless } from './jpeg-lossless';
import { decodeRle } from './rle';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLs, type DecodedImage } from './wasm-codecs';

export { DicomDecodeError } from './errors';

export type FramePixels = Int16Array | Uint16Array | Int8Array | Uint8Array;

type PixelFormat = Pick<InstanceHeader, 'rows' | 'columns' | 'bitsAllocated' | 'bitsStored' | 'pixelRepresentation'> &
  Partial<Pick<InstanceHeader, 'samplesPerPixel'>>;

/** Transfer syntaxes decodeFrame accepts, for docs and `lens inspect`. */
export const SUPPORTED_TRANSFER_SYNTAXES = [
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
];

export function decodeFrame(encoded: Uint8Array, transferSyntaxUID: string, h: PixelFormat): FramePixels {
  const fail = (reason: string) => new DicomDecodeError(transferSyntaxUID, reason);
  const spp = h.samplesPerPixel ?? 1;
  if (spp !== 1) throw fail(`only grayscale images are supported (SamplesPerPixel ${spp})`);
  if (h.bitsAllocated !== 8 && h.bitsAllocated !== 16) throw fail(`BitsAllocated ${h.bitsAllocated} is not supported (8 or 16)`);
  const n = h.rows * h.columns;
  const bytesPerSample = h.bitsAllocated / 8;
  const expected = n * bytesPerSample;
  if (!n) throw fail('Rows or Columns missing');

  if (NATIVE_LITTLE_ENDIAN.has(transferSyntaxUID)) {
    if (encoded.byteLength < expected) throw fail(`frame has ${encoded.byteLength} bytes, expected ${expected} (truncated?)`);
    return toStored(encoded.subarray(0, expected), h, { alreadySigned: false, maskHighBits: true });
  }
  // A codec allocates what the codestream declares: a size other than the header's is refused before decoding.
  const declared = codestreamSize(encoded);
  if (declared && (declared.width !== h.columns || declared.height !== h.rows)) {
    throw fail(`the compressed frame declares ${declared.width}x${declared.height}, the header ${h.columns}x${h.rows}`);
  }
  try {
    switch (transferSyntaxUID) {
      case '1.2.840.10008.1.2.5':
        return toStored(decodeRle(encoded, h.rows, h.columns, h.bitsAllocated, 1), h, { alreadySigned: false, maskHighBits: true });
      case '1.2.840.10008.1.2.4.57':
      case '1.2.840.10008.1.2.4.70': {
        const raw = decodeJpegLossless(encoded, bytesPerSample);
        checkLength(raw, expected);
        return toStored(raw, h, { alreadySigned: false, maskHighBits: false });
      }
      case '1.2.840.10008.1.2.4.80':
      case '1.2.840.10008.1.2.4.81':
        return fromCodec(decodeJpegLs(encoded), h, expected);
      case '1.2.840.10008.1.2.4.90':
      case '1.2.840.10008.1.2.4.91':
        return fromCodec(decodeJpeg2000(encoded), h, expected);
      case '1.2.840.10008.1.2.4.50':
        if (h.bitsAllocated !== 8) throw new Error('baseline JPEG holds 8-bit samples only');
        return fromCodec(decodeJpegBaseline(encoded), h, expected);
    }
  } catch (e) {
    if (e instanceof DicomDecodeError) throw e;
    throw fail(`the decoder failed: ${(e as Error)?.message ?? String(e)}`);
  }
  throw fail(TRANSFER_SYNTAX_NAMES[transferSyntaxUID] ? 'this transfer syntax is not supported' : 'unknown transfer syntax');
}

function checkLength(raw: Uint8Array, expected: number): void {
  if (raw.byteLength !== expected) throw new Error(`decoded ${raw.byteLength} bytes, expected ${expected}`);
}

function fromCodec(img: DecodedImage, h: PixelFormat, expected: number): FramePixels {
  if (img.width !== h.columns || img.height !== h.rows) {
    throw new Error(`decoded image is ${img.width}x${img.height}, header says ${h.columns}x${h.rows}`);
  }
  if (img.componentCount !== 1) throw new Error(`decoded image has ${img.componentCount} components`);
  checkLength(img.pixels, expected);
  return toStored(img.pixels, h, { alreadySigned: img.isSigned, maskHighBits: false });
}

/**
 * Raw little-endian samples -> typed stored values. Native and RLE data may carry other bits above BitsStored
 * (old overlays), so they are masked; signed values narrower than the container are sign-extended from BitsStored
 * unless the codec already returned them sign-extended.
 */
function toStored(raw: Uint8Array, h: PixelFormat, o: { alreadySigned: boolean; maskHighBits: boolean }): FramePixels {
  const signed = h.pixelRepresentation === 1;
  const bits = h.bitsAllocated;
  const stored = Math.min(h.bitsStored || bits, bits);
  // Copy so the result owns an aligned buffer (raw may be an unaligned view into a file).
  const copy = new Uint8Array(raw);
  if (bits === 8) {
    const u = copy;
    adjust(u, stored, 8, signed, o);
    return signed ? new Int8Array(u.buffer) : u;
  }
  const u16 = new Uint16Array(copy.buffer, 0, copy.byteLength / 2);
  adjust(u16, stored, 16, signed, o);
  return signed ? new Int16Array(u16.buffer, 0, u16.length) : u16;
}

function adjust(a: Uint8Array | Uint16Array, stored: number, bits: number, signed: boolean, o: { alreadySigned: boolean; maskHighBits: boolean }): void {
  if (stored >= bits) return;
  const mask = (1 << stored) - 1;
  if (signed) {
    if (o.alreadySigned) return;
    const sign = 1 << (stored - 1);
    const full = (1 << bits) - 1;
    for (let i = 0; i < a.length; i++) {
      const v = a[i] & mask;
      a[i] = v & sign ? (v | (~mask & full)) : v;
    }
  } else if (o.maskHighBits) {
    for (let i = 0; i < a.length; i++) a[i] &= mask;
  }
}
