/**
 * A reader's 2D annotation on one source image -> a slice of the analysed volume and a 3D box in patient LPS mm,
 * so that it can be matched against the detector's 3D candidates (docs/harvest.md#proposals-classification-thresholds).
 *
 * The extent along the slice normal is not drawn by a reader: like the RECIST-to-3D step of Lesion Harvester, the
 * lesion is taken as roughly round, half its largest in-plane extent above and below the annotated slice.
 */
import type { BoxLPS } from '../detect/findings';
import { boxToLPS } from '../detect/lesions';
import type { Volume } from '../dicom/volume';
import type { ImageAnnotation } from './sr-labels';

/** A point annotation (an arrow) gets a box of this side, mm. */
export const POINT_BOX_MM = 10;

export interface PlacedAnnotation {
  /** Index of the annotated slice in the volume (sorted along the normal). */
  sliceIndex: number;
  bboxLPS: BoxLPS;
}

/** Undefined when the annotated image is not a slice of this volume (another series, or left out of it). */
export function placeAnnotation(a: ImageAnnotation, volume: Pick<Volume, 'slices' | 'origin' | 'spacing' | 'direction' | 'dims'>): PlacedAnnotation | undefined {
  const frame = a.frameNumber ?? 1;
  const k = volume.slices.findIndex((s) => s.sopInstanceUID === a.sopInstanceUID && (s.frameNumber ?? 1) === frame);
  if (k < 0) return undefined;
  const [sx, sy, sz] = volume.spacing;
  let [x1, y1, x2, y2] = a.box;
  // Boxes smaller than a point's are widened around their centre (a point, a very short line).
  const minX = POINT_BOX_MM / sx;
  const minY = POINT_BOX_MM / sy;
  if (a.shape === 'point' || x2 - x1 < minX / 4) [x1, x2] = widen(x1, x2, minX);
  if (a.shape === 'point' || y2 - y1 < minY / 4) [y1, y2] = widen(y1, y2, minY);
  const halfDepthMm = Math.max((x2 - x1) * sx, (y2 - y1) * sy) / 2;
  const dz = Math.max(0.5, halfDepthMm / sz);
  return { sliceIndex: k, bboxLPS: boxToLPS(volume, [x1, y1, k - dz, x2, y2, k + dz]) };
}

function widen(lo: number, hi: number, size: number): [number, number] {
  const c = (lo + hi) / 2;
  return [c - size / 2, c + size / 2];
}
