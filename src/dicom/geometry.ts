/**
 * Slice geometry of a series, worked out from headers alone: which frames form the volume, in which order, with
 * which spacing, and whether the stack is usable (one orientation, one pixel grid, positions on one line along the
 * normal, no duplicates, even spacing or mildly uneven spacing that can be resampled). Only geometry that really
 * differs is refused; header inconsistencies that leave one volume (per-instance FrameOfReferenceUIDs, as TCIA's
 * de-identification writes them) are tolerated and recorded in `tolerated`. Series selection uses it to reject series
 * with reasons before any pixel is read; volume assembly uses the same plan to fill the voxels.
 *
 * Thresholds (documented in docs/dicom.md): see GeometryOptions.
 */
import type { InstanceHeader } from './instance-header';
import type { SeriesInfo } from './series';
import { VolumeError } from './volume-error';
import type { Vec3, Volume } from './volume';

export interface GeometryOptions {
  /** Steps within this fraction of the median step count as even (scanner rounding). Default 0.01. */
  evenTolerance?: number;
  /** Steps within this fraction of the median are resampled to even spacing; beyond it the series is rejected. Default 0.25. */
  maxResampleDeviation?: number;
  /** Slices whose positions along the normal differ by less than this (mm) are duplicates. Default 0.01. */
  duplicateToleranceMm?: number;
  /** Angle (degrees) between the line of slice positions and the normal beyond which the stack is sheared (gantry tilt). Default 1. */
  maxShearDeg?: number;
  /**
   * A slice whose position lies further than this (in pixels, of the smaller pixel spacing) off the line through the
   * others along the normal is displaced in-plane: the series is refused. Default 0.5.
   */
  maxOffNormalPx?: number;
}

export const GEOMETRY_DEFAULTS: Required<GeometryOptions> = {
  evenTolerance: 0.01,
  maxResampleDeviation: 0.25,
  duplicateToleranceMm: 0.01,
  maxShearDeg: 1,
  maxOffNormalPx: 0.5,
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
  /** Real-world header inconsistencies accepted because the geometry is one volume, one sentence each. */
  tolerated: string[];
}

/** The geometry a plan gives the volume (everything of Volume but the voxels and slice list). */
export function volumeGeometry(plan: GeometryPlan): Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction' | 'frameOfReferenceUID'> {
  return {
    dims: [plan.columns, plan.rows, plan.outputSlices],
    spacing: [plan.pixelSpacing[1], plan.pixelSpacing[0], plan.spacing],
    origin: [...plan.slices[0].position] as Vec3,
    direction: { row: plan.row, column: plan.column, normal: plan.normal },
    frameOfReferenceUID: plan.frameOfReferenceUID ?? '',
  };
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
  const { frameOfReferenceUID, tolerated } = frameOfReference(slices);
  if (slices.length === 1) {
    const t = first.instance.sliceThickness;
    return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing: t && t > 0 ? t : 1, outputSlices: 1, resample: false, frameOfReferenceUID, notes: ['single slice: spacing along the normal taken from SliceThickness'], tolerated };
  }

  checkOnOneLine(slices, normal, Math.min(ps[0], ps[1]), o, first.instance.gantryDetectorTilt);
  const tiltTag = first.instance.gantryDetectorTilt;
  if (tiltTag && Math.abs(tiltTag) > o.maxShearDeg) {
    notes.push(`GantryDetectorTilt is ${tiltTag}° but slice positions are not sheared (already corrected by the scanner)`);
  }

  const steps = slices.slice(1).map((s, k) => s.z - slices[k].z);
  const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
  const extent = slices[slices.length - 1].z - slices[0].z;
  const maxDev = Math.max(...steps.map((s) => Math.abs(s - median) / median));
  if (maxDev <= o.evenTolerance) {
    return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing: extent / (slices.length - 1), outputSlices: slices.length, resample: false, frameOfReferenceUID, notes, tolerated };
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
  return { rows, columns, pixelSpacing: ps, row, column, normal, slices, spacing, outputSlices, resample: true, frameOfReferenceUID, notes, tolerated };
}

/**
 * Every slice position must lie on one line along the normal. Two ways to leave it are refused, with different
 * reasons: the whole stack sheared by one angle (gantry tilt, a tilted acquisition not corrected by the scanner),
 * and single slices displaced in-plane (stacks stitched from different table or patient positions).
 */
function checkOnOneLine(slices: PlannedSlice[], normal: Vec3, pixelMm: number, o: Required<GeometryOptions>, tiltTag: number | undefined): void {
  const p0 = slices[0].position;
  const lateral = slices.map((s) => {
    const d = [0, 1, 2].map((a) => s.position[a] - p0[a]) as Vec3;
    const along = dot(d, normal);
    return [0, 1, 2].map((a) => d[a] - along * normal[a]) as Vec3;
  });
  const last = slices.length - 1;
  const extent = slices[last].z - slices[0].z;
  // The shear of the stack as a whole, from its end slices; a sheared stack has every slice on that line.
  const shear = lateral[last].map((v) => v / extent) as Vec3;
  const residual = lateral.map((l, k) => norm([0, 1, 2].map((a) => l[a] - (slices[k].z - slices[0].z) * shear[a]) as Vec3));
  if (Math.max(...residual) > o.maxOffNormalPx * pixelMm) {
    // Name the slice furthest from where most slices lie (the component-wise median), not from the first slice,
    // which may itself be the displaced one.
    const median = [0, 1, 2].map((a) => [...lateral.map((l) => l[a])].sort((x, y) => x - y)[Math.floor(lateral.length / 2)]);
    const offBy = lateral.map((l) => norm([0, 1, 2].map((a) => l[a] - median[a]) as Vec3));
    const worst = offBy.reduce((w, d, k) => (d > offBy[w] ? k : w), 0);
    const displaced = offBy.filter((d) => d > o.maxOffNormalPx * pixelMm).length;
    throw new VolumeError(
      `slice positions are not on one line along the slice normal: ${displaced} of ${slices.length} slices lie off it, ` +
        `the one at ${fmt(slices[worst].z)} mm by ${fmt(offBy[worst])} mm in-plane (stacks from different table or patient positions)`,
    );
  }
  const shearDeg = (Math.atan(norm(shear)) * 180) / Math.PI;
  if (shearDeg > o.maxShearDeg) {
    throw new VolumeError(
      `gantry tilt: slice positions step ${fmt(shearDeg, 1)}° off the slice normal${tiltTag ? ` (GantryDetectorTilt ${tiltTag}°)` : ''}; sheared volumes are not supported`,
    );
  }
}

/**
 * The volume's FrameOfReferenceUID, and what was tolerated about it. Called once the geometry is known to be one
 * volume (one orientation, pixel grid and normal), so differing UIDs are a labelling matter: TCIA's de-identification
 * of LIDC-IDRI gives every instance its own. The volume needs one UID for the SR and SEG; any of them is as right as
 * another, and the first sorted slice's (the volume origin's) is taken because it never depends on file or PACS order.
 */
function frameOfReference(slices: PlannedSlice[]): { frameOfReferenceUID?: string; tolerated: string[] } {
  const byInstance = new Map(slices.map((s) => [s.sopInstanceUID, s.instance.frameOfReferenceUID]));
  const instanceCount = byInstance.size;
  const uids = new Set([...byInstance.values()].filter((u): u is string => !!u));
  const missing = [...byInstance.values()].filter((u) => !u).length;
  const frameOfReferenceUID = slices.find((s) => s.instance.frameOfReferenceUID)?.instance.frameOfReferenceUID;
  const tolerated: string[] = [];
  if (uids.size > 1) {
    tolerated.push(
      uids.size === instanceCount
        ? `each of ${instanceCount} instances has its own FrameOfReferenceUID; geometry is one volume (the first slice's UID is used)`
        : `${uids.size} different FrameOfReferenceUIDs among ${instanceCount} instances; geometry is one volume (the first slice's UID is used)`,
    );
  }
  if (missing > 0 && uids.size > 0) tolerated.push(`FrameOfReferenceUID missing on ${missing} of ${instanceCount} instances; geometry is one volume`);
  if (uids.size === 0) tolerated.push('no FrameOfReferenceUID: positions are meaningful within this series only');
  return { frameOfReferenceUID, tolerated };
}
