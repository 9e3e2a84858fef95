/**
 * A CT volume in Hounsfield units with the geometry needed to map any voxel to patient LPS millimetres.
 *
 * Layout: voxel (i, j, k) is at data[k * rows * columns + j * columns + i]; i runs along a row (columns),
 * j down the rows, k over slices sorted by ascending position along the slice normal (never by InstanceNumber).
 */
export interface Volume {
  /** HU, rescale slope/intercept already applied. */
  data: Int16Array;
  /** [columns, rows, slices] */
  dims: [number, number, number];
  /** [spacing between columns (along the row direction), spacing between rows, spacing between slices] in mm */
  spacing: [number, number, number];
  /** LPS position of voxel (0, 0, 0): the ImagePositionPatient of the first sorted slice. */
  origin: [number, number, number];
  /** Unit vectors: rowDirection (increasing i), columnDirection (increasing j), normal (increasing k). */
  direction: { row: Vec3; column: Vec3; normal: Vec3 };
  /** Per sorted slice: the source instance, its frame (1-based, for multi-frame objects) and its position. */
  slices: SliceRef[];
  studyInstanceUID: string;
  seriesInstanceUID: string;
  frameOfReferenceUID: string;
  /**
   * What real-world DICOM needed to be tolerated to make this volume (per-instance frames of reference, missing
   * ImageType, thick slices, ...), one sentence each for the journey, the SR and `lens inspect`.
   */
  tolerated?: string[];
  /**
   * Instances of the series left out of the volume, each with its reason (a damaged rescale, another modality or
   * study, a file that could not be read). Each is also said in `tolerated`, so the journey and the SR name it.
   */
  excluded?: Exclusion[];
}

/** An instance (or a file) of the series that the volume does not contain, and why. */
export interface Exclusion {
  sopInstanceUID?: string;
  file?: string;
  reason: string;
}

export type Vec3 = [number, number, number];

export interface SliceRef {
  sopInstanceUID: string;
  sopClassUID: string;
  /** 1-based frame number inside a multi-frame instance; 1 for single-frame CT. */
  frameNumber: number;
  /** ImagePositionPatient of this slice. */
  position: Vec3;
}

/** Patient LPS coordinates of a (possibly fractional) voxel index. */
export function voxelToLPS(v: Pick<Volume, 'origin' | 'spacing' | 'direction'>, i: number, j: number, k: number): Vec3 {
  const { row, column, normal } = v.direction;
  const [sx, sy, sz] = v.spacing;
  return [0, 1, 2].map((a) => v.origin[a] + i * sx * row[a] + j * sy * column[a] + k * sz * normal[a]) as Vec3;
}

/** Fractional voxel index of a patient LPS point (inverse of voxelToLPS for orthonormal directions). */
export function lpsToVoxel(v: Pick<Volume, 'origin' | 'spacing' | 'direction'>, p: Vec3): Vec3 {
  const d: Vec3 = [p[0] - v.origin[0], p[1] - v.origin[1], p[2] - v.origin[2]];
  const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return [dot(d, v.direction.row) / v.spacing[0], dot(d, v.direction.column) / v.spacing[1], dot(d, v.direction.normal) / v.spacing[2]];
}
