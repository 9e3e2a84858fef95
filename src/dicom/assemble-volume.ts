/**
 * Series -> Volume: plans the geometry from headers (geometry.ts), then reads each frame once and writes its HU
 * straight into ONE preallocated Int16Array. Memory stays at one volume plus the frames in flight
 * (`concurrency` frames; two source slices while resampling).
 */
import type { FramePixels } from './decode';
import type { InstanceHeader } from './instance-header';
import { planGeometry, volumeGeometry, type GeometryOptions, type GeometryPlan, type PlannedSlice } from './geometry';
import type { SeriesInfo } from './series';
import { compareDuplicates, exclusionSentence } from './series-consistency';
import type { SliceRef, Vec3, Volume } from './volume';
import { VolumeError } from './volume-error';

export { VolumeError } from './volume-error';

/**
 * Reads one frame. `instance`, when given, names the copy to read: a folder may hold two files of one SOP instance
 * (SeriesInfo.duplicates), and their pixels are compared; a PACS holds one copy and may ignore it.
 */
export type ReadFrame = (sopInstanceUID: string, frameNumber: number, instance?: InstanceHeader) => Promise<FramePixels>;

export interface AssembleOptions extends GeometryOptions {
  /** Frames read at the same time (default 4). */
  concurrency?: number;
  /** Receives notes about the assembly (resampling, corrected tilt); they are also logged by callers. */
  onNote?: (note: string) => void;
  /**
   * What series selection tolerated about this series (SeriesSelection.tolerated): recorded in Volume.tolerated
   * together with what the geometry tolerated, so that the volume carries every tolerance to the journey and SR.
   */
  tolerated?: string[];
}

const I16_MIN = -32768;
const I16_MAX = 32767;

/**
 * `series` is the one series selection chose (SeriesSelection.selected): its damaged instances are already excluded
 * and listed in `excluded`, which the volume carries on. Duplicate files are compared here, before any voxel is read.
 */
export async function assembleVolume(series: SeriesInfo, readFrame: ReadFrame, opts: AssembleOptions = {}): Promise<Volume> {
  const duplicateNotes = await compareDuplicates(series, readFrame);
  const plan = planGeometry(series, opts);
  for (const n of plan.notes) opts.onNote?.(n);
  const sliceSize = plan.rows * plan.columns;
  const total = sliceSize * plan.outputSlices;
  let data: Int16Array;
  try {
    data = new Int16Array(total);
  } catch {
    throw new VolumeError(`volume of ${plan.columns}x${plan.rows}x${plan.outputSlices} voxels is too large to allocate`);
  }

  const clipped = { voxels: 0, slices: 0 };
  const toHU = (offset: number, px: FramePixels, s: PlannedSlice, out = data) => {
    const n = writeHU(out, offset, px, s.rescaleSlope, s.rescaleIntercept);
    if (n) {
      clipped.voxels += n;
      clipped.slices++;
    }
  };
  const read = async (s: PlannedSlice): Promise<FramePixels> => {
    let px: FramePixels;
    try {
      px = await readFrame(s.sopInstanceUID, s.frameNumber);
    } catch (e) {
      if (e instanceof VolumeError) throw e;
      const err = e as Error;
      // Decode and transport errors keep their own type (callers map them); add which frame failed.
      err.message = `${err.message} (SOP ${s.sopInstanceUID}, frame ${s.frameNumber})`;
      throw err;
    }
    if (px.length !== sliceSize) {
      throw new VolumeError(`frame ${s.frameNumber} of ${s.sopInstanceUID} has ${px.length} pixels, expected ${plan.columns}x${plan.rows}`);
    }
    return px;
  };

  let slices: SliceRef[];
  if (!plan.resample) {
    await forEachLimited(plan.slices, opts.concurrency ?? 4, async (s, k) => {
      toHU(k * sliceSize, await read(s), s);
    });
    slices = plan.slices.map(sliceRef);
  } else {
    slices = await resampleInto(data, plan, read, toHU);
  }
  // Rescale values are screened (series-consistency.ts), so a clipped voxel is an extreme stored value: said, not hidden.
  const clipNote = clipped.voxels
    ? [`${clipped.voxels} voxel${clipped.voxels === 1 ? '' : 's'} on ${clipped.slices} slice${clipped.slices === 1 ? '' : 's'} fell outside ${I16_MIN}..${I16_MAX} HU and ${clipped.voxels === 1 ? 'was' : 'were'} clipped to it`]
    : [];
  const excluded = series.excluded ?? [];

  return {
    data,
    ...volumeGeometry(plan),
    slices,
    studyInstanceUID: series.studyInstanceUID,
    seriesInstanceUID: series.seriesInstanceUID,
    tolerated: [...new Set([...excluded.map(exclusionSentence), ...(opts.tolerated ?? []), ...plan.tolerated, ...duplicateNotes, ...clipNote])],
    ...(excluded.length ? { excluded } : {}),
  };
}

function sliceRef(s: PlannedSlice): SliceRef {
  return { sopInstanceUID: s.sopInstanceUID, sopClassUID: s.sopClassUID, frameNumber: s.frameNumber, position: [...s.position] as Vec3 };
}

/** stored * slope + intercept, rounded and clamped to Int16; returns how many voxels were clamped. */
export function writeHU(out: Int16Array, offset: number, px: FramePixels, slope: number, intercept: number): number {
  const n = px.length;
  let clamped = 0;
  if (slope === 1 && Number.isInteger(intercept)) {
    for (let i = 0; i < n; i++) {
      const v = px[i] + intercept;
      if (v < I16_MIN || v > I16_MAX) clamped++;
      out[offset + i] = v < I16_MIN ? I16_MIN : v > I16_MAX ? I16_MAX : v;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = Math.round(px[i] * slope + intercept);
      if (v < I16_MIN || v > I16_MAX) clamped++;
      out[offset + i] = v < I16_MIN ? I16_MIN : v > I16_MAX ? I16_MAX : v;
    }
  }
  return clamped;
}

/**
 * Linear interpolation along the normal onto plan.outputSlices evenly spaced positions. Output slices are produced
 * in order, so only the two source slices around the current position are held (as HU in Int16).
 */
async function resampleInto(
  data: Int16Array,
  plan: GeometryPlan,
  read: (s: PlannedSlice) => Promise<FramePixels>,
  toHU: (offset: number, px: FramePixels, s: PlannedSlice, out: Int16Array) => void,
): Promise<SliceRef[]> {
  const sliceSize = plan.rows * plan.columns;
  const src = plan.slices;
  const z0 = src[0].z;
  const cache = new Map<number, Int16Array>();
  const huOf = async (idx: number): Promise<Int16Array> => {
    let hu = cache.get(idx);
    if (!hu) {
      hu = new Int16Array(sliceSize);
      toHU(0, await read(src[idx]), src[idx], hu);
      for (const key of cache.keys()) if (key < idx - 1) cache.delete(key);
      cache.set(idx, hu);
    }
    return hu;
  };
  const refs: SliceRef[] = [];
  let a = 0;
  for (let k = 0; k < plan.outputSlices; k++) {
    const z = k === plan.outputSlices - 1 ? src[src.length - 1].z : z0 + k * plan.spacing;
    while (a < src.length - 2 && src[a + 1].z <= z) a++;
    const b = Math.min(a + 1, src.length - 1);
    const t = b === a ? 0 : Math.min(1, Math.max(0, (z - src[a].z) / (src[b].z - src[a].z)));
    const ha = await huOf(a);
    const off = k * sliceSize;
    if (t < 1e-6) data.set(ha, off);
    else if (t > 1 - 1e-6) data.set(await huOf(b), off);
    else {
      const hb = await huOf(b);
      for (let i = 0; i < sliceSize; i++) data[off + i] = Math.round(ha[i] + t * (hb[i] - ha[i]));
    }
    const nearest = src[t < 0.5 ? a : b];
    const p0 = src[0].position;
    const dz = z - z0;
    refs.push({
      sopInstanceUID: nearest.sopInstanceUID,
      sopClassUID: nearest.sopClassUID,
      frameNumber: nearest.frameNumber,
      position: [p0[0] + dz * plan.normal[0], p0[1] + dz * plan.normal[1], p0[2] + dz * plan.normal[2]],
    });
  }
  return refs;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  // After the first failure no worker takes another item: the volume is lost anyway, and further reads would only
  // keep a PACS busy (and retrying) for nothing.
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const k = next++;
      try {
        await fn(items[k], k);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
