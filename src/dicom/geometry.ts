/**
 * Slice geometry of a series, worked out from headers alone: which frames form the volume, in which order, with
 * which spacing, and whether the stack is usable (one orientation, one pixel grid, no duplicates, no gantry-tilt
 * shear, even spacing or mildly uneven spacing that can be resampled). Series selection uses it to reject series
 * with reasons before any pixel is read; volume assembly uses the same plan to fill the voxels.
 *
 * Thresholds (documented in docs/dicom.md): see GeometryOptions.
 */
import type { InstanceHeader } from './instance-header';
import type { SeriesInfo } from './series';
import { VolumeError } from './volume-error';
import type { Vec3 } from './volume';

export interface GeometryOptions {
  /** Steps within this fraction of the median step count as even (scanner rounding). Default 0.01. */
  evenTolerance?: number;
  /** Steps within this fraction of the median are resampled to even spacing; beyond it the series is rejected. Default 0.25. */
  maxResampleDeviation?: number;
  /** Slices whose positions along the normal differ by less than this (mm) are duplicates. Default 0.01. */
  duplicateToleranceMm?: number;
  /** Angle (degrees) between the slice-to-slice step and the normal beyond which the stack is sheared (gantry tilt). Default 1. */
  maxShearDeg?: number;
}

export const GEOMETRY_DEFAULTS: Required<GeometryOptions> = {
  evenTolerance: 0.01,
  maxResampleDeviation: 0.25,
  duplicateToleranceMm: 0.01,
  maxShearDeg: 1,
};

export interface PlannedSlice {
  instance: InstanceHeader;
  sopInstanceUID: string;
  sopClassUID: string;
  frameNumber: number;
  position: Vec3;
  /** Position along the normal, mm. */
  z: number;
  rescaleSlope: number;
  rescaleIntercept: number;
}

export interface GeometryPlan {
  rows: number;
  columns: number;
  /** [row spacing, column spacing] as PixelSpacing. */
  pixelSpacing: [number, number];
  row: Vec3;
  column: Vec3;
  normal: Vec3;
  /** Source slices sorted by ascending position along the normal. */
  slices: PlannedSlice[];
  /** Spacing of the output volume along the normal. */
  spacing: number;
  /** Output slice count: equals slices.length unless resampled. */
  outputSlices: number;
  /** True when the source positions are uneven and the volume is resampled onto an even grid. */
  resample: boolean;
  frameOfReferenceUID?: string;
  /** Things the user should know that do not prevent use (e.g. "resampled ..."). */
  notes: string[];
}

export const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const norm = (a: Vec3) => Math.sqrt(dot(a, a));
const fmt = (x: number, d = 2) => Number(x.toFixed(d)).toString();

/** Plans the volume of a series or throws VolumeError saying why it cannot be one. */
export function planGeometry(series: SeriesInfo, options: GeometryOptions = {}): GeometryPlan {
  const o = { ...GEOMETRY_DEFAULTS, ...options };
  const notes: string[] = [];
  const frames: (PlannedSlice & { iop?: number[]; ps?: [number, number] })[] = [];
  const missing = { ipp: 0, iop: 0, ps: 0 };
  for (const inst of series.instances) {
    for (const f of inst.frames) {
      if (!f.imagePositionPatient) missing.ipp++;
      if (!f.imageOrientationPatient) missing.iop++;
      if (!f.pixelSpacing) missing.ps++;
      frames.push({
        instance: inst,
        sopInstanceUID: inst.sopInstanceUID,
        sopClassUID: inst.sopClassUID,
        frameNumber: f.frameNumber,
        position: f.imagePositionPatient ?? [0, 0, 0],
        z: 0,
        rescaleSlope: f.rescaleSlope,
        rescaleIntercept: f.rescaleIntercept,
        iop: f.imageOrientationPatient,
        ps: f.pixelSpacing,
      });
    }
  }
  if (frames.length === 0) throw new VolumeError('the series has no image frames');
  const lacking = (
    [
      ['ImagePositionPatient', missing.ipp],
      ['ImageOrientationPatient', missing.iop],
      ['PixelSpacing', missing.ps],
    ] as const
  ).filter(([, n]) => n > 0);
  if (lacking.length) {
    throw new VolumeError(`missing geometry: ${lacking.map(([k, n]) => `${k} absent on ${n} of ${frames.length} frames`).join('; ')}`);
  }

  const first = frames[0];
  const rows = first.instance.rows;
  const columns = first.instance.columns;
  if (!rows || !columns) throw new VolumeError('Rows/Columns missing');
  const iop = first.iop!;
  const ps = first.ps!;
  for (const f of frames) {
    if (f.instance.rows !== rows || f.instance.columns !== columns) {
      throw new VolumeError(`mixed image sizes: ${columns}x${rows} and ${f.instance.columns}x${f.instance.rows}`);
    }
    if (f.iop!.some((v, i) => Math.abs(v - iop[i]) > 1e-3)) {
      throw new VolumeError(`mixed orientations: [${iop.map((v) => fmt(v, 3))}] and [${f.iop!.map((v) => fmt(v, 3))}]`);
    }
    if (f.ps!.some((v, i) => Math.abs(v - ps[i]) > 1e-3 * ps[i])) {
      throw new VolumeError(`mixed pixel spacings: ${ps.map((v) => fmt(v, 4)).join('/')} and ${f.ps!.map((v) => fmt(v, 4)).join('/')} mm`);
    }
    if (f.instance.frameOfReferenceUID !== first.instance.frameOfReferenceUID) {
      throw new VolumeError('mixed frames of reference (FrameOfReferenceUID differs between instances)');
    }
  }
  if (!(ps[0] > 0 && ps[1] > 0)) throw new VolumeError(`invalid PixelSpacing ${ps.join('\\')}`);
  let row: Vec3 = [iop[0], iop[1], iop[2]];
  let column: Vec3 = [iop[3], iop[4], iop[5]];
  if (Math.abs(norm(row) - 1) > 0.01 || Math.abs(norm(column) - 1) > 0.01 || Math.abs(dot(row, column)) > 0.01) {
    throw new VolumeError(`ImageOrientationPatient [${iop.join(', ')}] is not two orthogonal unit vectors`);
  }
  row = row.map((v) => v / norm(row)) as Vec3;
  column = column.map((v) => v / norm(column)) as Vec3;
  const n = cross(row, column);
  const normal = n.map((v) => v / norm(n)) as Vec3;

  for (const f of frames) f.z = dot(f.position, normal);
  // Ties broken by SOP UID and frame number so that the order never depends on file order.
  frames.sort((a, b) => a.z - b.z || (a.sopInstanceUID < b.sopInstanceUID ? -1 : a.sopInstanceUID > b.sopInstanceUID ? 1 : a.frameNumber - b.frameNumber));

  const dups: string[] = [];
  for (let k = 1; k < frames.length; k++) {
    if (frames[k].z - frames[k - 1].z < o.duplicateToleranceMm) dups.push(fmt(frames[k].z));
  }
  if (dups.length) {
    const shown = [...new Set(dups)].slice(0, 5).join(', ');
    throw new VolumeError(`${dups.length} duplicate slice position(s) along the normal at ${shown}${dups.length > 5 ? ', ...' : ''} mm (the series mixes acquisitions or repeats slices)`);
  }
  const slices: PlannedSlice[] = frames.map(({ iop: _i, ps: _p, ...s }) => s);
  if (slices.length === 1) {
    const t = first.instance.sliceThickness;
    return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing: t && t > 0 ? t : 1, outputSlices: 1, resample: false, frameOfReferenceUID: first.instance.frameOfReferenceUID, notes: ['single slice: spacing along the normal taken from SliceThickness'] };
  }

  // Gantry tilt: the step between slices leaves the normal, so the stack is sheared.
  let maxShear = 0;
  for (let k = 1; k < slices.length; k++) {
    const d = [0, 1, 2].map((a) => slices[k].position[a] - slices[k - 1].position[a]) as Vec3;
    const along = dot(d, normal);
    const off = norm([d[0] - along * normal[0], d[1] - along * normal[1], d[2] - along * normal[2]]);
    maxShear = Math.max(maxShear, (Math.atan2(off, Math.abs(along)) * 180) / Math.PI);
  }
  const tiltTag = first.instance.gantryDetectorTilt;
  if (maxShear > o.maxShearDeg) {
    throw new VolumeError(
      `gantry tilt: slice positions step ${fmt(maxShear, 1)}° off the slice normal${tiltTag ? ` (GantryDetectorTilt ${tiltTag}°)` : ''}; sheared volumes are not supported`,
    );
  }
  if (tiltTag && Math.abs(tiltTag) > o.maxShearDeg) {
    notes.push(`GantryDetectorTilt is ${tiltTag}° but slice positions are not sheared (already corrected by the scanner)`);
  }

  const steps = slices.slice(1).map((s, k) => s.z - slices[k].z);
  const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
  const extent = slices[slices.length - 1].z - slices[0].z;
  const maxDev = Math.max(...steps.map((s) => Math.abs(s - median) / median));
  if (maxDev <= o.evenTolerance) {
    return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing: extent / (slices.length - 1), outputSlices: slices.length, resample: false, frameOfReferenceUID: first.instance.frameOfReferenceUID, notes };
  }
  const worst = steps.reduce((w, s, k) => (Math.abs(s - median) > Math.abs(steps[w] - median) ? k : w), 0);
  const where = `between ${fmt(slices[worst].z)} and ${fmt(slices[worst + 1].z)} mm`;
  if (maxDev > o.maxResampleDeviation) {
    const s = steps[worst];
    if (s > 1.5 * median) {
      const missingSlices = Math.round(s / median) - 1;
      throw new VolumeError(`gap of ${fmt(s)} mm ${where} where slices are ${fmt(median)} mm apart (about ${missingSlices} missing slice${missingSlices === 1 ? '' : 's'})`);
    }
    throw new VolumeError(`uneven slice spacing: step of ${fmt(s)} mm ${where}, median ${fmt(median)} mm (more than ${o.maxResampleDeviation * 100}% off)`);
  }
  const outputSlices = Math.round(extent / median) + 1;
  const spacing = extent / (outputSlices - 1);
  notes.push(
    `uneven slice spacing (steps ${fmt(Math.min(...steps))}-${fmt(Math.max(...steps))} mm, up to ${fmt(maxDev * 100, 1)}% off the median): resampled linearly to ${outputSlices} slices at ${fmt(spacing, 3)} mm`,
  );
  return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing, outputSlices, resample: true, frameOfReferenceUID: first.instance.frameOfReferenceUID, notes };
}
