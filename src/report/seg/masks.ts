/** Per-slice binary masks of a lesion, and 1-bit packing for BINARY SEG pixel data. */
import type { Volume } from '../../dicom/volume';
import { lpsToVoxel } from '../../dicom/volume';
import type { BoxLPS } from '../../detect/findings';
import type { LesionMaskInput } from '../inputs';

/** One frame of a segment: the slice index k into volume.slices and rows*columns bytes (1 = lesion). */
export interface SliceMask {
  sliceIndex: number;
  data: Uint8Array;
}

/**
 * The ellipsoid inscribed in a lesion's LPS box, sampled at voxel centres: the shape a box says most about when the
 * model gives no mask. Never empty: a box smaller than a voxel marks the voxel holding its centre.
 */
export function ellipsoidInBox(volume: Volume, box: BoxLPS): SliceMask[] {
  const [cols, rows, nk] = volume.dims;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const x of [box[0], box[3]]) for (const y of [box[1], box[4]]) for (const z of [box[2], box[5]]) {
    const v = lpsToVoxel(volume, [x, y, z]);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], v[a]);
      hi[a] = Math.max(hi[a], v[a]);
    }
  }
  const c = [0, 1, 2].map((a) => (lo[a] + hi[a]) / 2);
  const r = [0, 1, 2].map((a) => Math.max((hi[a] - lo[a]) / 2, 1e-6));
  const out: SliceMask[] = [];
  const k0 = Math.max(0, Math.ceil(c[2] - r[2]));
  const k1 = Math.min(nk - 1, Math.floor(c[2] + r[2]));
  for (let k = k0; k <= k1; k++) {
    const dz = (k - c[2]) / r[2];
    const s = Math.sqrt(Math.max(0, 1 - dz * dz));
    const ri = r[0] * s;
    const rj = r[1] * s;
    if (ri <= 0 || rj <= 0) continue;
    const data = new Uint8Array(rows * cols);
    let any = false;
    const j0 = Math.max(0, Math.ceil(c[1] - rj));
    const j1 = Math.min(rows - 1, Math.floor(c[1] + rj));
    const i0 = Math.max(0, Math.ceil(c[0] - ri));
    const i1 = Math.min(cols - 1, Math.floor(c[0] + ri));
    for (let j = j0; j <= j1; j++) {
      const dy = (j - c[1]) / rj;
      for (let i = i0; i <= i1; i++) {
        const dx = (i - c[0]) / ri;
        if (dx * dx + dy * dy <= 1) {
          data[j * cols + i] = 1;
          any = true;
        }
      }
    }
    if (any) out.push({ sliceIndex: k, data });
  }
  if (out.length === 0) {
    const [i, j, k] = c.map((v, a) => Math.min(Math.max(Math.round(v), 0), volume.dims[a] - 1));
    const data = new Uint8Array(rows * cols);
    data[j * cols + i] = 1;
    out.push({ sliceIndex: k, data });
  }
  return out;
}

/** A model mask (crops per slice) as full frames; empty slices are dropped (a SEG holds only frames with the lesion). */
export function masksFromModel(volume: Volume, lesionId: number, mask: LesionMaskInput): SliceMask[] {
  const [cols, rows, nk] = volume.dims;
  if (!mask || !Array.isArray(mask.frames)) throw new Error(`mask of lesion ${lesionId}: frames array is required`);
  const bySlice = new Map<number, Uint8Array>();
  for (const f of mask.frames) {
    const what = `mask of lesion ${lesionId}, slice ${f.sliceIndex}`;
    if (!Number.isInteger(f.sliceIndex) || f.sliceIndex < 0 || f.sliceIndex >= nk) throw new Error(`${what}: slice index outside 0..${nk - 1}`);
    if (![f.x0, f.y0, f.width, f.height].every((v) => Number.isInteger(v) && v >= 0)) throw new Error(`${what}: crop x0, y0, width, height must be non-negative integers`);
    if (!f.data || f.data.length !== f.width * f.height) throw new Error(`${what}: ${f.data?.length} values for a ${f.width}x${f.height} crop`);
    let data = bySlice.get(f.sliceIndex);
    if (!data) bySlice.set(f.sliceIndex, (data = new Uint8Array(rows * cols)));
    for (let y = 0; y < f.height; y++) {
      const j = f.y0 + y;
      if (j >= rows) break;
      for (let x = 0; x < f.width; x++) {
        const i = f.x0 + x;
        if (i < cols && f.data[y * f.width + x]) data[j * cols + i] = 1;
      }
    }
  }
  const out = [...bySlice.entries()].filter(([, d]) => d.some((v) => v !== 0)).map(([sliceIndex, data]) => ({ sliceIndex, data }));
  if (out.length === 0) throw new Error(`mask of lesion ${lesionId} is empty`);
  return out.sort((a, b) => a.sliceIndex - b.sliceIndex);
}

/**
 * Packs frames of 0/1 bytes into 1 bit per pixel, least significant bit first, frames back to back without
 * padding between them (PS3.5 8.1.1, PS3.3 C.8.20.2.1); the total is padded to an even length.
 */
export function packBits(frames: Uint8Array[], pixelsPerFrame: number): Uint8Array {
  const totalBits = frames.length * pixelsPerFrame;
  const bytes = Math.ceil(totalBits / 8);
  const out = new Uint8Array(bytes + (bytes % 2));
  let bit = 0;
  for (const f of frames) {
    if (f.length !== pixelsPerFrame) throw new Error(`packBits: frame of ${f.length} pixels, expected ${pixelsPerFrame}`);
    for (let p = 0; p < pixelsPerFrame; p++, bit++) if (f[p]) out[bit >> 3] |= 1 << (bit & 7);
  }
  return out;
}

/** Inverse of packBits for one frame (tests, verification). */
export function unpackFrame(packed: Uint8Array, frameIndex: number, pixelsPerFrame: number): Uint8Array {
  const out = new Uint8Array(pixelsPerFrame);
  const start = frameIndex * pixelsPerFrame;
  for (let p = 0; p < pixelsPerFrame; p++) {
    const bit = start + p;
    out[p] = (packed[bit >> 3] >> (bit & 7)) & 1;
  }
  return out;
}
