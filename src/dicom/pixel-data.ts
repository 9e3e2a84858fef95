/**
 * The encoded bytes of one frame from a dcmjs-read dataset's PixelData.
 *
 * dcmjs gives native pixel data as one buffer (all frames back to back). For encapsulated data it gives one buffer
 * per frame when the Basic Offset Table is filled, otherwise one buffer per fragment. A frame may span several
 * fragments: a single-frame object takes all fragments; with several frames and more fragments than frames, a new
 * frame starts at each fragment that begins with a JPEG/JPEG-LS SOI (FFD8) or JPEG 2000 SOC (FF4F) marker.
 */
import { DicomDecodeError } from './decode/errors';
import { DicomHeaderError, type InstanceHeader } from './instance-header';
import type { PixelDataExtent } from './part10-bounds';
import { isEncapsulated } from './transfer-syntax';

type Buf = ArrayBuffer | ArrayBufferView;

function u8(b: Buf): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function startsFrame(p: Uint8Array): boolean {
  return p.byteLength >= 2 && p[0] === 0xff && (p[1] === 0xd8 || p[1] === 0x4f);
}

export function frameBytes(pixelData: unknown, h: Pick<InstanceHeader, 'rows' | 'columns' | 'bitsAllocated' | 'numberOfFrames'>, transferSyntaxUID: string, frameNumber: number): Uint8Array {
  const nFrames = h.numberOfFrames;
  if (frameNumber < 1 || frameNumber > nFrames) throw new DicomDecodeError(transferSyntaxUID, `frame ${frameNumber} does not exist (${nFrames} frames)`);
  const items: Uint8Array[] = (Array.isArray(pixelData) ? pixelData : pixelData ? [pixelData] : [])
    .filter((b): b is Buf => b instanceof ArrayBuffer || ArrayBuffer.isView(b))
    .map(u8);
  if (items.length === 0 || items.every((b) => b.byteLength === 0)) throw new DicomDecodeError(transferSyntaxUID, 'the instance has no pixel data');

  if (!isEncapsulated(transferSyntaxUID)) {
    const all = concat(items);
    const frameSize = (h.rows * h.columns * h.bitsAllocated) / 8;
    const start = (frameNumber - 1) * frameSize;
    if (all.byteLength < start + frameSize) {
      throw new DicomDecodeError(transferSyntaxUID, `pixel data has ${all.byteLength} bytes, frame ${frameNumber} needs bytes up to ${start + frameSize} (truncated?)`);
    }
    return all.subarray(start, start + frameSize);
  }
  if (nFrames === 1) return concat(items);
  if (items.length === nFrames) return items[frameNumber - 1];
  const frames: Uint8Array[][] = [];
  for (const it of items) {
    if (frames.length === 0 || startsFrame(it)) frames.push([it]);
    else frames[frames.length - 1].push(it);
  }
  if (frames.length !== nFrames) {
    throw new DicomDecodeError(transferSyntaxUID, `cannot split ${items.length} fragments into ${nFrames} frames (no Basic Offset Table)`);
  }
  return concat(frames[frameNumber - 1]);
}

/**
 * Checks what the header says (Rows, Columns, BitsAllocated, SamplesPerPixel, NumberOfFrames) against what the
 * file's PixelData really holds (measured on the bytes, part10-bounds.ts), so that no frame is ever sized or
 * looked for beyond the data: native data must hold every frame, and not a whole frame more (then the header does
 * not describe the data); encapsulated data needs at least one fragment per frame. Throws DicomHeaderError.
 */
export function checkPixelDataExtent(
  h: Pick<InstanceHeader, 'rows' | 'columns' | 'bitsAllocated' | 'samplesPerPixel' | 'numberOfFrames' | 'transferSyntaxUID'>,
  extent: PixelDataExtent | undefined,
): void {
  if (!h.rows || !h.columns) return; // not an image: nothing is read from its pixel data
  if (!extent) throw new DicomHeaderError('no pixel data (Rows and Columns are set but the file has no PixelData element)');
  const frames = h.numberOfFrames;
  if (isEncapsulated(h.transferSyntaxUID)) {
    if (extent.fragments === undefined) throw new DicomHeaderError('pixel data is not encapsulated, but the transfer syntax says it is');
    if (extent.fragments < frames) throw new DicomHeaderError(`NumberOfFrames ${frames} but the pixel data holds only ${extent.fragments} fragment${extent.fragments === 1 ? '' : 's'}`);
    return;
  }
  if (extent.bytes === undefined) throw new DicomHeaderError('pixel data is encapsulated, but the transfer syntax is a native one');
  const frameSize = Math.ceil((h.rows * h.columns * h.bitsAllocated * (h.samplesPerPixel || 1)) / 8);
  const needed = frameSize * frames;
  if (extent.bytes < needed) {
    throw new DicomHeaderError(`truncated: pixel data needs ${needed} bytes (${h.rows} x ${h.columns} x ${h.bitsAllocated} bits x ${frames} frame${frames === 1 ? '' : 's'}) but holds ${extent.bytes}`);
  }
  if (extent.bytes >= needed + frameSize) {
    throw new DicomHeaderError(`pixel data holds ${extent.bytes} bytes, a frame or more beyond the ${needed} that ${h.rows} x ${h.columns} x ${h.bitsAllocated} bits x ${frames} frame${frames === 1 ? '' : 's'} need: the header does not describe the data`);
  }
}
