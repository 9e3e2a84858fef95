/** Axis-aligned 2D boxes [x1, y1, x2, y2] (x1 <= x2, y1 <= y2) in one pixel grid. */
export type Box2D = [number, number, number, number];

export function area2d(b: Box2D): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

export function iou2d(a: Box2D, b: Box2D): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (area2d(a) + area2d(b) - inter);
}

export function centreDistance(a: Box2D, b: Box2D): number {
  return Math.hypot((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2, (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2);
}

export function union2d(a: Box2D, b: Box2D): Box2D {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}
