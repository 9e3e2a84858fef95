import type { BoxLPS } from './findings';

/** The centre of a box (LPS mm). */
export function boxCentre(b: BoxLPS): [number, number, number] {
  return [(b[0] + b[3]) / 2, (b[1] + b[4]) / 2, (b[2] + b[5]) / 2];
}

/** Intersection volume / volume of the predicted box; 0 when the predicted box has no volume. */
export function iobb(pred: BoxLPS, truth: BoxLPS): number {
  const vol = (pred[3] - pred[0]) * (pred[4] - pred[1]) * (pred[5] - pred[2]);
  if (!(vol > 0)) return 0;
  let inter = 1;
  for (let a = 0; a < 3; a++) {
    const d = Math.min(pred[a + 3], truth[a + 3]) - Math.max(pred[a], truth[a]);
    if (d <= 0) return 0;
    inter *= d;
  }
  return inter / vol;
}
