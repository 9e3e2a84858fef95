import type { Shape3 } from './shapes';

/**
 * One painted structure: a shape filled with a tissue's HU. Layers are painted in order; a later layer covers an
 * earlier one in proportion to how much of each pixel it covers (partial volume at edges).
 */
export interface Layer {
  name: string;
  shape: Shape3;
  tissue: number;
  /** HU, constant or varying in space (lung density gradient, mottled stool). */
  hu: number | ((x: number, y: number, s: number) => number);
  /** Paint only over pixels whose current tissue is in this table (see tissueSet). */
  within?: Uint8Array;
  /** Small structures: average over sub-slices across the slice thickness (through-plane partial volume). */
  thin?: boolean;
  /** Edge width in pixels (1 = sharp; lesions with ill-defined margins use more). */
  edge?: number;
  /**
   * The shape's sdf changes by at most about 1 per mm in plane, so that a pixel far inside or outside lets the
   * painter skip ahead along the row (big organs: body, cavity, lungs, liver).
   */
  distanceLike?: boolean;
  /** Index of the lesion this layer draws, for the truth boxes. */
  lesion?: number;
}
