/**
 * From linked chains of 2D detections to findings.json lesions: 3D box in patient LPS, key slice on the original
 * series, long/short axis, volume and per-slice masks (when the model has a mask output), deterministic tracking UID.
 */
import { voxelToLPS, type Volume } from '../dicom/volume';
import { deriveUid } from '../dicom/uid';
import { area2d, centreDistance, union2d, type Box2D } from './box2d';
import { iobb } from './box3d';
import type { BoxLPS, Lesion, LesionType } from './findings';
import type { Chain, SliceDetection } from './link3d';
import { axesFromBox, axesFromMask, largestComponent, type Axes, type BinaryImage } from './measure';
import type { InPlaneGrid } from './preprocess';

/** A crop of the model's mask output (probabilities) around a detection, in output cells. */
export interface MaskCrop {
  x0: number;
  y0: number;
  width: number;
  height: number;
  data: Float32Array;
  /** Input pixels per cell. */
  stride: number;
}

export interface PositionedDetection extends SliceDetection {
  /** Position in mm along the normal from the first slice. */
  zMm: number;
  mask?: MaskCrop;
}

/** One frame of a lesion's mask on the ORIGINAL series: a crop (0/1, row-major) at pixel (x0, y0) of that slice. */
export interface MaskFrame {
  /** Index into volume.slices (sorted along the normal). */
  sliceIndex: number;
  sopInstanceUID: string;
  frameNumber: number;
  x0: number;
  y0: number;
  width: number;
  height: number;
  data: Uint8Array;
}

export interface LesionMask {
  frames: MaskFrame[];
}

export interface LesionOptions {
  /** A chain seen on a single analysed position is kept only at or above this score. */
  minSingleScore: number;
  /** Mask probability threshold. */
  maskThreshold: number;
  /**
   * Where the reported long and short axes come from: the largest component of the mask on the key slice ('mask'),
   * or the key slice's box ('box': long = its larger side, short = its smaller). Models without a mask use the box.
   */
  longAxis: 'mask' | 'box';
  /**
   * Lesion score from its chain's 2D scores: the best one ('max'), or the mean of the best two / three where a chain
   * shorter than that counts the missing ones as 0 ('meanTop2', 'meanTop3'): evidence from several slices, so that a
   * detection seen on a single position ranks below a lesion the network sees on consecutive positions.
   */
  chainScore: 'max' | 'meanTop2' | 'meanTop3';
  /**
   * 3D compactness prior. Elongation = 3D length of the chain (z extent and in-plane centre drift from its first to
   * its last detection, in mm) / its in-plane size (largest sqrt(w h), mm). A lesion is compact (about 1); a vessel
   * followed through the slices is a long thin tube (z extent or steady drift much larger than its calibre). Above
   * `maxElongation` the score is multiplied by (maxElongation / elongation) ^ `elongationPower`. Infinity = off.
   */
  maxElongation: number;
  elongationPower: number;
  /**
   * 3D non-maximum suppression: a lesion whose box lies at least this fraction inside (intersection / its own volume)
   * a better-scoring lesion's box is dropped, so that one object split into two chains (a type flip, a gap longer
   * than maxGap) is reported once. Above 1 = off.
   */
  nmsIoBB: number;
}

/**
 * Chosen on the validation seed 7001 (30 studies, 113 lesions; never trained or tested on) with
 * scripts/tune-postprocess.ts, lens-ulb 0.1.0, average sensitivity (docs/detect.md "Lesion scoring"): 'meanTop3'
 * (0.550 -> 0.623 with 'max'), maxElongation 1.5 with power 1 (with meanTop3: 0.689; 2: 0.673, 3: 0.657, 1.25: 0.650,
 * 1.0: 0.593), and no 3D suppression (0.5, 0.3 and 0.1 left every operating point up to 8 FPs/volume unchanged: what
 * it removes scores far below them). These describe lesions and slices, not one network, so they live here; a model
 * whose 2D scores behave very differently should be re-checked with the script.
 * longAxis 'box': chosen with scripts/evaluate-measurement.ts on validation (phantom seed 7001 x 10 + acrin-flt-breast-013
 * with inserted lesions, seed 8301 x 5; lens-ulb 0.4.0): 43 of 54 found lesions within 25 % of their annotated extent,
 * against 33 with the mask (26 with the mask at 0.3); median |error| 12 % against 19 %. The mask still draws the SEG
 * and gives the volume (docs/model.md, "Measuring the long axis").
 */
export const DEFAULT_LESION_OPTIONS: LesionOptions = {
  minSingleScore: 0,
  maskThreshold: 0.5,
  longAxis: 'box',
  chainScore: 'meanTop3',
  maxElongation: 1.5,
  elongationPower: 1,
  nmsIoBB: 2,
};

export interface AssembleContext {
  volume: Pick<Volume, 'origin' | 'spacing' | 'direction' | 'dims' | 'slices' | 'seriesInstanceUID'>;
  grid: InPlaneGrid;
  /** Distance between analysed positions (the z extent each detection stands for). */
  strideMm: number;
  model: { name: string; version: string };
}

/**
 * Chains -> lesions numbered 1..n in descending score order. Only lesions whose reported (rounded) score reaches
 * `minScore` are assembled: masks and measurements cost per lesion, and most chains of a low candidate threshold
 * fall below the operating point. Suppression runs before the cut, so the cut never changes who survives it.
 */
export function chainsToLesions(
  chains: readonly Chain<PositionedDetection>[],
  ctx: AssembleContext,
  opts: LesionOptions = DEFAULT_LESION_OPTIONS,
  minScore = 0,
): { lesions: Lesion[]; masks: Map<number, LesionMask> } {
  const geo = { pixelMm: ctx.grid.pixelSpacingMm, strideMm: ctx.strideMm };
  const scored = chains
    .map((c) => ({ chain: c, score: lesionScore(c, opts, geo), box: chainBox(c, geo) }))
    .filter(({ chain, score }) => chain.detections.length > 1 || score >= opts.minSingleScore)
    .sort((a, b) => b.score - a.score);
  const drafts: typeof scored = [];
  for (const d of scored) if (!drafts.some((k) => iobb(d.box, k.box) >= opts.nmsIoBB)) drafts.push(d);
  const lesions: Lesion[] = [];
  const masks = new Map<number, LesionMask>();
  drafts.filter((d) => round(d.score, 4) >= minScore).forEach(({ chain, score }, n) => {
    const id = n + 1;
    const { lesion, mask } = assembleLesion(chain, score, id, ctx, opts);
    lesions.push(lesion);
    if (mask) masks.set(id, mask);
  });
  return { lesions, masks };
}

/** Millimetres per input pixel in-plane and between analysed positions. */
export interface ChainGeometry {
  pixelMm: number;
  strideMm: number;
}

/** The chain's score (chainScore) times its compactness factor. */
export function lesionScore(c: Chain<PositionedDetection>, opts: LesionOptions, geo: ChainGeometry): number {
  const e = elongation(c, geo);
  const factor = e > opts.maxElongation ? (opts.maxElongation / e) ** opts.elongationPower : 1;
  return chainScore(c, opts.chainScore) * factor;
}

export function chainScore(c: Chain<SliceDetection>, how: LesionOptions['chainScore']): number {
  const s = c.detections.map((d) => d.score).sort((a, b) => b - a);
  if (how === 'meanTop2') return (s[0] + (s[1] ?? 0)) / 2;
  if (how === 'meanTop3') return (s[0] + (s[1] ?? 0) + (s[2] ?? 0)) / 3;
  return s[0];
}

/** 3D length / in-plane size of a chain (see LesionOptions.maxElongation); 1 for a sphere-like chain. */
export function elongation(c: Chain<PositionedDetection>, geo: ChainGeometry): number {
  const dets = [...c.detections].sort((a, b) => a.zMm - b.zMm);
  const first = dets[0];
  const lastDet = dets[dets.length - 1];
  const zExtent = lastDet.zMm - first.zMm + geo.strideMm;
  const drift = centreDistance(first.box, lastDet.box) * geo.pixelMm;
  const size = Math.max(...dets.map((d) => Math.sqrt(area2d(d.box)))) * geo.pixelMm;
  return size > 0 ? Math.hypot(zExtent, drift) / size : Infinity;
}

/** [x1, y1, z1, x2, y2, z2] in mm (in-plane from input pixels, z along the normal), for 3D suppression. */
type Box3 = [number, number, number, number, number, number];

function chainBox(c: Chain<PositionedDetection>, geo: ChainGeometry): Box3 {
  const b = c.detections.map((d) => d.box).reduce(union2d);
  const z = c.detections.map((d) => d.zMm);
  const h = geo.strideMm / 2;
  return [b[0] * geo.pixelMm, b[1] * geo.pixelMm, Math.min(...z) - h, b[2] * geo.pixelMm, b[3] * geo.pixelMm, Math.max(...z) + h];
}

/** Score-weighted vote over the chain's detections. */
export function chainType(c: Chain<SliceDetection>): LesionType {
  const votes = new Map<LesionType, number>();
  for (const d of c.detections) votes.set(d.type, (votes.get(d.type) ?? 0) + d.score);
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
}

/** The detection standing for the lesion on its key slice: the largest box among those scoring at least half the best. */
export function keyDetection<D extends SliceDetection>(c: Chain<D>): D {
  const best = Math.max(...c.detections.map((d) => d.score));
  const strong = c.detections.filter((d) => d.score >= 0.5 * best);
  return strong.reduce((a, b) => (area2d(b.box) > area2d(a.box) || (area2d(b.box) === area2d(a.box) && b.score > a.score) ? b : a));
}

function assembleLesion(
  chain: Chain<PositionedDetection>,
  score: number,
  id: number,
  ctx: AssembleContext,
  opts: LesionOptions,
): { lesion: Lesion; mask?: LesionMask } {
  const { volume, grid } = ctx;
  const [cols, rows, nSlices] = volume.dims;
  const sz = nSlices > 1 && volume.spacing[2] > 0 ? volume.spacing[2] : 1;
  const dets = chain.detections;
  const inputBox = dets.map((d) => d.box).reduce(union2d);
  const px = toOriginalBox(inputBox, grid);
  const zLo = Math.min(...dets.map((d) => d.zMm)) - ctx.strideMm / 2;
  const zHi = Math.max(...dets.map((d) => d.zMm)) + ctx.strideMm / 2;
  const k1 = Math.max(zLo / sz, -0.5);
  const k2 = Math.min(zHi / sz, nSlices - 0.5);
  const bboxLPS = boxToLPS(volume, [px[0], px[1], k1, px[2], px[3], k2]);

  const key = keyDetection(chain);
  const keyIndex = clampInt(Math.round(key.zMm / sz), 0, nSlices - 1);
  const keyRef = volume.slices[keyIndex];
  const keyBox = clipBox(toOriginalBox(key.box, grid), cols, rows);

  let axes: Axes = axesFromBox((keyBox[2] - keyBox[0]) * volume.spacing[0], (keyBox[3] - keyBox[1]) * volume.spacing[1]);
  let mask: LesionMask | undefined;
  let volumeMm3: number | undefined;
  if (dets.some((d) => d.mask)) {
    const keyFrame = key.mask && opts.longAxis === 'mask' ? sampleMaskFrame(key, ctx, opts.maskThreshold) : null;
    if (keyFrame) axes = axesFromMask(keyFrame.img, volume.spacing[0], volume.spacing[1]);
    const frames: MaskFrame[] = [];
    for (let k = Math.ceil(k1 - 1e-9); k <= Math.floor(k2 + 1e-9) && k < nSlices; k++) {
      if (k < 0) continue;
      const nearest = dets.reduce((a, b) => (Math.abs(b.zMm - k * sz) < Math.abs(a.zMm - k * sz) ? b : a));
      const f = nearest.mask ? sampleMaskFrame(nearest, ctx, opts.maskThreshold) : null;
      if (!f) continue;
      const ref = volume.slices[k];
      frames.push({ sliceIndex: k, sopInstanceUID: ref.sopInstanceUID, frameNumber: ref.frameNumber, x0: f.x0, y0: f.y0, width: f.img.width, height: f.img.height, data: f.img.data });
    }
    if (frames.length) {
      mask = { frames };
      const voxels = frames.reduce((s, f) => s + f.data.reduce((a, b) => a + b, 0), 0);
      volumeMm3 = round(voxels * volume.spacing[0] * volume.spacing[1] * sz, 1);
    }
  }

  const heads: Record<string, number> = {};
  for (const d of dets) for (const [h, s] of Object.entries(d.heads)) heads[h] = Math.max(heads[h] ?? 0, s);
  const lesion: Lesion = {
    id,
    trackingUid: trackingUid(volume.seriesInstanceUID, ctx.model, id, bboxLPS),
    type: chainType(chain),
    score: round(score, 4),
    bboxLPS: bboxLPS.map((v) => round(v, 2)) as BoxLPS,
    keySlice: { sopInstanceUID: keyRef.sopInstanceUID, frameNumber: keyRef.frameNumber, box: keyBox.map((v) => round(v, 1)) as Box2D },
    longAxisMm: round(axes.longMm, 1),
    shortAxisMm: round(axes.shortMm, 1),
    ...(volumeMm3 !== undefined ? { volumeMm3 } : {}),
    heads: Object.fromEntries(Object.entries(heads).map(([h, s]) => [h, round(s, 4)])),
  };
  return { lesion, mask };
}

/** Input-pixel box -> original-pixel box (pixel centres at integers in both). */
export function toOriginalBox(b: Box2D, grid: Pick<InPlaneGrid, 'toOriginalX' | 'toOriginalY'>): Box2D {
  return [grid.toOriginalX(b[0]), grid.toOriginalY(b[1]), grid.toOriginalX(b[2]), grid.toOriginalY(b[3])];
}

/**
 * A box in fractional voxel indices [i1, j1, k1, i2, j2, k2] -> [xmin, ymin, zmin, xmax, ymax, zmax] in patient LPS:
 * the extremes over its 8 corners, so any orientation and slice order give the same LPS box.
 */
export function boxToLPS(v: Pick<Volume, 'origin' | 'spacing' | 'direction'>, b: [number, number, number, number, number, number]): BoxLPS {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const i of [b[0], b[3]]) for (const j of [b[1], b[4]]) for (const k of [b[2], b[5]]) {
    const p = voxelToLPS(v, i, j, k);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], p[a]);
      hi[a] = Math.max(hi[a], p[a]);
    }
  }
  return [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]];
}

/** Stable across reruns of one model on one series (2.25 UID from series, model, lesion index and box). */
export function trackingUid(seriesUID: string, model: { name: string; version: string }, index: number, box: BoxLPS): string {
  return deriveUid('tracking', seriesUID, model.name, model.version, String(index), box.map((v) => v.toFixed(1)).join(','));
}

/**
 * The detection's mask probabilities sampled (bilinear between output cells) on original slice k's pixels inside
 * the detection's box widened by a quarter, thresholded, reduced to its largest component. Null when empty.
 */
function sampleMaskFrame(det: PositionedDetection, ctx: AssembleContext, threshold: number): { x0: number; y0: number; img: BinaryImage } | null {
  const m = det.mask!;
  const [cols, rows] = ctx.volume.dims;
  const b = toOriginalBox(det.box, ctx.grid);
  const mx = (b[2] - b[0]) * 0.25 + 1;
  const my = (b[3] - b[1]) * 0.25 + 1;
  const x0 = clampInt(Math.floor(b[0] - mx), 0, cols - 1);
  const y0 = clampInt(Math.floor(b[1] - my), 0, rows - 1);
  const x1 = clampInt(Math.ceil(b[2] + mx), 0, cols - 1);
  const y1 = clampInt(Math.ceil(b[3] + my), 0, rows - 1);
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Uint8Array(width * height);
  let any = false;
  for (let y = 0; y < height; y++) {
    const v = (ctx.grid.toInputY(y0 + y) + 0.5) / m.stride - 0.5 - m.y0;
    for (let x = 0; x < width; x++) {
      const u = (ctx.grid.toInputX(x0 + x) + 0.5) / m.stride - 0.5 - m.x0;
      if (bilinear(m, u, v) >= threshold) {
        data[y * width + x] = 1;
        any = true;
      }
    }
  }
  if (!any) return null;
  const img = largestComponent({ data, width, height });
  return img ? { x0, y0, img } : null;
}

function bilinear(m: MaskCrop, u: number, v: number): number {
  const uu = Math.min(Math.max(u, 0), m.width - 1);
  const vv = Math.min(Math.max(v, 0), m.height - 1);
  const i0 = Math.floor(uu);
  const j0 = Math.floor(vv);
  const i1 = Math.min(i0 + 1, m.width - 1);
  const j1 = Math.min(j0 + 1, m.height - 1);
  const tu = uu - i0;
  const tv = vv - j0;
  const at = (i: number, j: number) => m.data[j * m.width + i];
  const top = at(i0, j0) + (at(i1, j0) - at(i0, j0)) * tu;
  const bot = at(i0, j1) + (at(i1, j1) - at(i0, j1)) * tu;
  return top + (bot - top) * tv;
}

function clipBox(b: Box2D, cols: number, rows: number): Box2D {
  return [Math.max(b[0], -0.5), Math.max(b[1], -0.5), Math.min(b[2], cols - 0.5), Math.min(b[3], rows - 0.5)];
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
