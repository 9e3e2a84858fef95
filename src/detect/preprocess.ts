/**
 * Preprocessing, exactly as docs/contracts.md#preprocessing (the Python training does the same):
 * 1. each slice resampled in-plane (bilinear) to the manifest's pixel spacing: input pixel u samples the original at
 *    i = u * spacing / sx (the centres of pixel 0 coincide), clamped at the edges; width floor((cols-1)*sx/spacing)+1;
 *    values rounded to whole HU (the training stores the resampled volume as Int16);
 * 2. an analysed position at z (mm along the normal from the first slice) takes as channel c the slice at
 *    z + (c - k) * sliceIntervalMm, linearly interpolated between the two nearest slices, clamped at the ends;
 * 3. HU clipped to huWindow and mapped to [0, 1];
 * 4. H and W padded at the bottom/right with 0 to a multiple of sizeMultiple.
 * Stacks are built batch by batch from a sliding window of resampled slices, so memory does not grow with the
 * length of the series: every original slice is resampled once and dropped when no later position needs it.
 */
import type { Volume } from '../dicom/volume';
import type { ModelManifest } from './manifest';

/**
 * The mapping between original pixel indices and network input pixels (pixel centres at integers in both; the
 * centres of pixel 0 coincide, as models/training/data.py resample_inplane).
 */
export class InPlaneGrid {
  readonly width: number;
  readonly height: number;
  readonly paddedWidth: number;
  readonly paddedHeight: number;
  /** Original pixels per input pixel along x (columns) and y (rows). */
  readonly scaleX: number;
  readonly scaleY: number;

  constructor(
    readonly cols: number,
    readonly rows: number,
    spacingX: number,
    spacingY: number,
    readonly pixelSpacingMm: number,
    sizeMultiple: number,
  ) {
    this.width = Math.floor(((cols - 1) * spacingX) / pixelSpacingMm + 1e-9) + 1;
    this.height = Math.floor(((rows - 1) * spacingY) / pixelSpacingMm + 1e-9) + 1;
    this.scaleX = pixelSpacingMm / spacingX;
    this.scaleY = pixelSpacingMm / spacingY;
    this.paddedWidth = Math.ceil(this.width / sizeMultiple) * sizeMultiple;
    this.paddedHeight = Math.ceil(this.height / sizeMultiple) * sizeMultiple;
  }

  static forVolume(v: Pick<Volume, 'dims' | 'spacing'>, m: ModelManifest): InPlaneGrid {
    return new InPlaneGrid(v.dims[0], v.dims[1], v.spacing[0], v.spacing[1], m.input.pixelSpacingMm, m.input.sizeMultiple);
  }

  toOriginalX(x: number): number {
    return x * this.scaleX;
  }
  toOriginalY(y: number): number {
    return y * this.scaleY;
  }
  toInputX(i: number): number {
    return i / this.scaleX;
  }
  toInputY(j: number): number {
    return j / this.scaleY;
  }
}

interface Taps {
  i0: Int32Array;
  i1: Int32Array;
  w: Float32Array;
}

function taps(n: number, srcLen: number, toSrc: (d: number) => number): Taps {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const w = new Float32Array(n);
  for (let d = 0; d < n; d++) {
    const s = Math.min(Math.max(toSrc(d), 0), srcLen - 1);
    const f = Math.floor(s);
    i0[d] = f;
    i1[d] = Math.min(f + 1, srcLen - 1);
    w[d] = s - f;
  }
  return { i0, i1, w };
}

/** Bilinear in-plane resampling of slice k of the volume to the grid's width x height, in HU (float). */
export function resampleSlice(v: Pick<Volume, 'data' | 'dims'>, k: number, grid: InPlaneGrid, tx?: Taps, ty?: Taps): Float32Array {
  const [cols, rows] = v.dims;
  const xs = tx ?? taps(grid.width, cols, (x) => grid.toOriginalX(x));
  const ys = ty ?? taps(grid.height, rows, (y) => grid.toOriginalY(y));
  const out = new Float32Array(grid.width * grid.height);
  const base = k * cols * rows;
  const d = v.data;
  for (let y = 0; y < grid.height; y++) {
    const r0 = base + ys.i0[y] * cols;
    const r1 = base + ys.i1[y] * cols;
    const wy = ys.w[y];
    const o = y * grid.width;
    for (let x = 0; x < grid.width; x++) {
      const a = xs.i0[x];
      const b = xs.i1[x];
      const wx = xs.w[x];
      const top = d[r0 + a] + (d[r0 + b] - d[r0 + a]) * wx;
      const bot = d[r1 + a] + (d[r1 + b] - d[r1 + a]) * wx;
      out[o + x] = Math.round(top + (bot - top) * wy);
    }
  }
  return out;
}

/**
 * Analysed positions in mm along the normal from the first slice: every sliceStrideMm, centred on the series so
 * that both ends are treated alike.
 */
export function analysedPositions(slices: number, sliceSpacingMm: number, strideMm: number): number[] {
  const length = slices > 1 ? (slices - 1) * sliceSpacingMm : 0;
  const count = Math.floor(length / strideMm + 1e-6) + 1;
  const start = (length - (count - 1) * strideMm) / 2;
  return Array.from({ length: count }, (_, i) => start + i * strideMm);
}

/** Builds input batches for analysed positions, keeping only the resampled slices still needed. */
export class StackBuilder {
  readonly grid: InPlaneGrid;
  readonly positionsMm: number[];
  readonly channels: number;
  private readonly k: number;
  private readonly interval: number;
  private readonly sliceSpacing: number;
  private readonly cache = new Map<number, Float32Array>();
  private readonly tx: Taps;
  private readonly ty: Taps;
  /** Slices resampled so far (each exactly once when positions are requested in order). */
  resampledCount = 0;

  constructor(
    private readonly volume: Pick<Volume, 'data' | 'dims' | 'spacing'>,
    private readonly manifest: ModelManifest,
  ) {
    this.grid = InPlaneGrid.forVolume(volume, manifest);
    this.channels = manifest.input.slices;
    this.k = (this.channels - 1) / 2;
    this.interval = manifest.input.sliceIntervalMm;
    this.sliceSpacing = volume.dims[2] > 1 && volume.spacing[2] > 0 ? volume.spacing[2] : 1;
    this.positionsMm = analysedPositions(volume.dims[2], this.sliceSpacing, manifest.input.sliceStrideMm ?? manifest.input.sliceIntervalMm);
    this.tx = taps(this.grid.width, volume.dims[0], (x) => this.grid.toOriginalX(x));
    this.ty = taps(this.grid.height, volume.dims[1], (y) => this.grid.toOriginalY(y));
  }

  /** Fractional slice index of a position (clamped into the series). */
  sliceIndexAt(zMm: number): number {
    return Math.min(Math.max(zMm / this.sliceSpacing, 0), this.volume.dims[2] - 1);
  }

  /** Float32 [N, C, paddedH, paddedW] for the given position indices (ascending). */
  buildBatch(positionIndices: readonly number[]): Float32Array {
    const { paddedWidth: pw, paddedHeight: ph, width: w, height: h } = this.grid;
    const [lo, hi] = this.manifest.input.huWindow;
    const scale = 1 / (hi - lo);
    const out = new Float32Array(positionIndices.length * this.channels * ph * pw);
    const zs = positionIndices.map((p) => this.positionsMm[p]);
    this.evictBelow(Math.floor(this.sliceIndexAt(Math.min(...zs) - this.k * this.interval)));
    positionIndices.forEach((_, n) => {
      for (let c = 0; c < this.channels; c++) {
        const f = this.sliceIndexAt(zs[n] + (c - this.k) * this.interval);
        const i0 = Math.floor(f);
        const t = f - i0;
        const a = this.slice(i0);
        const b = t > 0 ? this.slice(Math.min(i0 + 1, this.volume.dims[2] - 1)) : a;
        const planeBase = (n * this.channels + c) * ph * pw;
        for (let y = 0; y < h; y++) {
          const src = y * w;
          const dst = planeBase + y * pw;
          for (let x = 0; x < w; x++) {
            const hu = t > 0 ? a[src + x] + (b[src + x] - a[src + x]) * t : a[src + x];
            const v = (hu - lo) * scale;
            out[dst + x] = v < 0 ? 0 : v > 1 ? 1 : v;
          }
        }
      }
    });
    return out;
  }

  /** Number of resampled slices held right now (bounded by the batch's z extent). */
  get cachedSlices(): number {
    return this.cache.size;
  }

  private slice(k: number): Float32Array {
    let s = this.cache.get(k);
    if (!s) {
      s = resampleSlice(this.volume, k, this.grid, this.tx, this.ty);
      this.cache.set(k, s);
      this.resampledCount++;
    }
    return s;
  }

  private evictBelow(k: number): void {
    for (const key of this.cache.keys()) if (key < k) this.cache.delete(key);
  }
}
