/**
 * The input of the proposal classifier (second stage): 3D crops around a detector candidate at two scales, each in
 * two HU windows, plus a few scalar features of the candidate. One function builds them for training data
 * (scripts/classifier-candidates.ts) and at run time (proposal-classifier.ts), so both see identical inputs.
 *
 * Scale 1 is fixed (local detail: a nodule against its vessels); scale 2 follows the candidate's box (the whole
 * finding and its surroundings: a mass against the mediastinum, a loop of bowel). Both are sampled trilinearly in
 * the volume's own axes (row, column, normal), so no resampling of the series is needed.
 */
import { boxCentre } from './box3d';
import type { BoxLPS } from './findings';
import { lpsToVoxel, type Volume } from '../dicom/volume';

export interface CropSpec {
  /** Voxels per crop [depth (normal), height (column), width (row)]. */
  size: [number, number, number];
  /** Scale 1: fixed extent in mm [along normal, column, row]. */
  fixedMm: [number, number, number];
  /** Scale 2: the box extent times this factor, clamped to [minMm, maxMm] per axis. */
  boxFactor: number;
  minMm: number;
  maxMm: number;
  /** HU windows mapped to [0, 1] (clipped): one channel per window and scale. */
  windows: [number, number][];
}

export const DEFAULT_CROP_SPEC: CropSpec = {
  size: [8, 16, 16],
  fixedMm: [32, 40, 40],
  boxFactor: 2,
  minMm: 32,
  maxMm: 160,
  windows: [
    [-1000, 200],
    [-160, 240],
  ],
};

/**
 * A classifier's crops are part of the classifier: its manifest (`input.crop`) and its training data folders
 * (CROP_SPEC_FILE) carry the spec, so that a classifier trained on other crops still loads and sees what it learned
 * from. Manifests and folders without one were made with DEFAULT_CROP_SPEC.
 */
export const CROP_SPEC_FILE = 'crop-spec.json';

export class CropSpecError extends Error {}

/** A crop spec from JSON, every field checked (where: what it came from, for the message). */
export function parseCropSpec(raw: unknown, where: string): CropSpec {
  const bad = (why: string): never => {
    throw new CropSpecError(`${where}: crop spec ${why}`);
  };
  if (typeof raw !== 'object' || raw === null) return bad('is not an object');
  const r = raw as Record<string, unknown>;
  const known = ['size', 'fixedMm', 'boxFactor', 'minMm', 'maxMm', 'windows'];
  const unknown = Object.keys(r).filter((k) => !known.includes(k));
  if (unknown.length) bad(`has unknown keys ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  const triple = (k: string, integer: boolean): [number, number, number] => {
    const v = r[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => positive(x) && (!integer || Number.isInteger(x)))) bad(`${k} must be three positive ${integer ? 'integers' : 'numbers'}`);
    return v as [number, number, number];
  };
  for (const k of ['boxFactor', 'minMm', 'maxMm']) if (!positive(r[k])) bad(`${k} must be a positive number`);
  if ((r.minMm as number) > (r.maxMm as number)) bad('minMm exceeds maxMm');
  const w = r.windows;
  if (!Array.isArray(w) || !w.length || !w.every((x) => Array.isArray(x) && x.length === 2 && x.every(Number.isFinite) && x[0] < x[1]))
    bad('windows must be a non-empty list of [low, high] HU with low < high');
  return { size: triple('size', true), fixedMm: triple('fixedMm', false), boxFactor: r.boxFactor as number, minMm: r.minMm as number, maxMm: r.maxMm as number, windows: w as [number, number][] };
}

/** Scalar features: the detector's score and the log box extents in mm (x, y, z). */
export const FEATURE_COUNT = 4;

export function channelCount(spec: CropSpec): number {
  return 2 * spec.windows.length;
}

export function cropLength(spec: CropSpec): number {
  return channelCount(spec) * spec.size[0] * spec.size[1] * spec.size[2];
}

/**
 * Writes the crops of the candidate (box, score) into out (channel-major [C, D, H, W], values in [0, 1]) and its
 * features into feat. Channels: scale 1 in each window, then scale 2 in each window.
 */
export function candidateInput(v: Volume, box: BoxLPS, score: number, spec: CropSpec, out: Float32Array, feat: Float32Array): void {
  const centre = lpsToVoxel(v, boxCentre(box));
  // Extent of the LPS box along the volume's axes (mm).
  const ext = [v.direction.row, v.direction.column, v.direction.normal].map((d) => Math.abs(d[0]) * (box[3] - box[0]) + Math.abs(d[1]) * (box[4] - box[1]) + Math.abs(d[2]) * (box[5] - box[2]));
  const clamp = (x: number) => Math.min(spec.maxMm, Math.max(spec.minMm, x * spec.boxFactor));
  const scales: [number, number, number][] = [spec.fixedMm, [clamp(ext[2]), clamp(ext[1]), clamp(ext[0])]];
  const [D, H, W] = spec.size;
  const n = D * H * W;
  const nw = spec.windows.length;
  const sample = new Float32Array(n);
  scales.forEach((mm, s) => {
    // Step per output voxel in volume index units, along normal (k), column (j), row (i).
    const dk = mm[0] / D / v.spacing[2], dj = mm[1] / H / v.spacing[1], di = mm[2] / W / v.spacing[0];
    let q = 0;
    for (let z = 0; z < D; z++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          sample[q++] = trilinear(v, centre[0] + (x - (W - 1) / 2) * di, centre[1] + (y - (H - 1) / 2) * dj, centre[2] + (z - (D - 1) / 2) * dk);
    spec.windows.forEach(([lo, hi], w) => {
      const base = (s * nw + w) * n;
      for (let i = 0; i < n; i++) {
        const t = (sample[i] - lo) / (hi - lo);
        out[base + i] = t < 0 ? 0 : t > 1 ? 1 : t;
      }
    });
  });
  feat[0] = score;
  for (let a = 0; a < 3; a++) feat[1 + a] = Math.log(Math.max(1, box[a + 3] - box[a]));
}

/** HU at a fractional voxel index, edges clamped (outside the volume reads the nearest edge voxel). */
function trilinear(v: Volume, i: number, j: number, k: number): number {
  const [cols, rows, slices] = v.dims;
  const c = (x: number, hi: number) => (x < 0 ? 0 : x > hi - 1 ? hi - 1 : x);
  i = c(i, cols);
  j = c(j, rows);
  k = c(k, slices);
  const i0 = Math.floor(i), j0 = Math.floor(j), k0 = Math.floor(k);
  const i1 = Math.min(cols - 1, i0 + 1), j1 = Math.min(rows - 1, j0 + 1), k1 = Math.min(slices - 1, k0 + 1);
  const fi = i - i0, fj = j - j0, fk = k - k0;
  const d = v.data;
  const at = (ii: number, jj: number, kk: number) => d[(kk * rows + jj) * cols + ii];
  const plane = (kk: number) =>
    (at(i0, j0, kk) * (1 - fi) + at(i1, j0, kk) * fi) * (1 - fj) + (at(i0, j1, kk) * (1 - fi) + at(i1, j1, kk) * fi) * fj;
  return plane(k0) * (1 - fk) + plane(k1) * fk;
}
