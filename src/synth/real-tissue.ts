/**
 * Simple HU rules that tell where a real CT volume has lung, fat, solid tissue or bone, so that synthetic lesions
 * can be inserted where such lesions occur (insert-lesions.ts). No organ segmentation: the rules look at a
 * locally averaged HU (5 x 5 pixels, which removes most noise) and at the air outside the body.
 */
import type { Volume } from '../dicom/volume';

export const RealTissue = { outside: 0, lung: 1, fat: 2, solid: 3, bone: 4, other: 5 } as const;
export type RealTissue = (typeof RealTissue)[keyof typeof RealTissue];

/** Local-mean HU bounds of each class (inclusive); 'other' is every HU between them. */
export const TISSUE_HU = { lungBelow: -600, fat: [-150, -40], solid: [20, 180], boneAbove: 200, bodyAbove: -400 } as const;

export interface TissueMap {
  dims: [number, number, number];
  /** 5 x 5 in-plane box mean of the HU (rounded), the background a lesion replaces. */
  mean: Int16Array;
  /** 1 where a pixel is air connected to the slice border (outside the body), else 0. */
  outside: Uint8Array;
  /** Standard deviation of the image noise (HU), from the median absolute residual in fat and soft tissue. */
  noiseSd: number;
}

const BOX = 2; // half width of the box mean

export function buildTissueMap(v: Volume): TissueMap {
  const [cols, rows, slices] = v.dims;
  const n = cols * rows;
  const mean = new Int16Array(n * slices);
  const outside = new Uint8Array(n * slices);
  const rowSum = new Float32Array(n);
  const stack = new Int32Array(n);
  for (let k = 0; k < slices; k++) {
    const src = v.data.subarray(k * n, (k + 1) * n);
    const dst = mean.subarray(k * n, (k + 1) * n);
    boxMean(src, dst, rowSum, cols, rows);
    floodOutside(dst, outside.subarray(k * n, (k + 1) * n), stack, cols, rows);
  }
  return { dims: [cols, rows, slices], mean, outside, noiseSd: estimateNoise(v.data, mean, outside) };
}

export function tissueAt(map: TissueMap, i: number, j: number, k: number): RealTissue {
  const [cols, rows, slices] = map.dims;
  if (i < 0 || j < 0 || k < 0 || i >= cols || j >= rows || k >= slices) return RealTissue.outside;
  const idx = (k * rows + j) * cols + i;
  if (map.outside[idx]) return RealTissue.outside;
  const hu = map.mean[idx];
  if (hu < TISSUE_HU.lungBelow) return RealTissue.lung;
  if (hu >= TISSUE_HU.fat[0] && hu <= TISSUE_HU.fat[1]) return RealTissue.fat;
  if (hu >= TISSUE_HU.solid[0] && hu <= TISSUE_HU.solid[1]) return RealTissue.solid;
  if (hu > TISSUE_HU.boneAbove) return RealTissue.bone;
  return RealTissue.other;
}

export function meanAt(map: TissueMap, i: number, j: number, k: number): number {
  const [cols, rows, slices] = map.dims;
  const c = (x: number, hi: number) => (x < 0 ? 0 : x >= hi ? hi - 1 : x);
  return map.mean[(c(k, slices) * rows + c(j, rows)) * cols + c(i, cols)];
}

/** Separable box mean with edges clamped. */
function boxMean(src: Int16Array, dst: Int16Array, tmp: Float32Array, cols: number, rows: number): void {
  const w = 2 * BOX + 1;
  for (let j = 0; j < rows; j++) {
    const r = j * cols;
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let d = -BOX; d <= BOX; d++) s += src[r + Math.min(cols - 1, Math.max(0, i + d))];
      tmp[r + i] = s / w;
    }
  }
  for (let j = 0; j < rows; j++)
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let d = -BOX; d <= BOX; d++) s += tmp[Math.min(rows - 1, Math.max(0, j + d)) * cols + i];
      dst[j * cols + i] = Math.round(s / w);
    }
}

/** Marks air reachable from the border without crossing the body (4-connected flood fill). */
function floodOutside(mean: Int16Array, out: Uint8Array, stack: Int32Array, cols: number, rows: number): void {
  let top = 0;
  const push = (idx: number) => {
    if (out[idx] || mean[idx] >= TISSUE_HU.bodyAbove) return;
    out[idx] = 1;
    stack[top++] = idx;
  };
  for (let i = 0; i < cols; i++) {
    push(i);
    push((rows - 1) * cols + i);
  }
  for (let j = 0; j < rows; j++) {
    push(j * cols);
    push(j * cols + cols - 1);
  }
  while (top > 0) {
    const idx = stack[--top];
    const i = idx % cols, j = (idx - i) / cols;
    if (i > 0) push(idx - 1);
    if (i < cols - 1) push(idx + 1);
    if (j > 0) push(idx - cols);
    if (j < rows - 1) push(idx + cols);
  }
}

/** 1.4826 x median |HU - local mean| over (a sample of) fat and soft-tissue voxels inside the body. */
function estimateNoise(data: Int16Array, mean: Int16Array, outside: Uint8Array): number {
  const hist = new Uint32Array(512);
  let count = 0;
  for (let idx = 0; idx < data.length; idx += 7) {
    const m = mean[idx];
    if (outside[idx] || m < TISSUE_HU.fat[0] || m > TISSUE_HU.solid[1]) continue;
    hist[Math.min(511, Math.abs(data[idx] - m))]++;
    count++;
  }
  if (count === 0) return 0;
  let acc = 0;
  for (let b = 0; b < hist.length; b++) {
    acc += hist[b];
    // The box mean includes the voxel itself, which shrinks the residual by a factor 24/25.
    if (acc >= count / 2) return (1.4826 * (b + 0.5) * 25) / 24;
  }
  return 0;
}
