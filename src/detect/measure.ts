/**
 * Lesion measurements on one slice (RECIST style): the long axis is the longest diameter of the mask's largest
 * connected component, the short axis the longest chord perpendicular to it. Without a mask the box stands in:
 * long = max(w, h), short = min(w, h) in mm (exact for an axis-aligned ellipse, an overestimate of the short axis for
 * an oblique one).
 */

export interface Axes {
  longMm: number;
  shortMm: number;
}

/** A binary image (0/1, row-major) of width x height. */
export interface BinaryImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export function axesFromBox(widthMm: number, heightMm: number): Axes {
  return { longMm: Math.max(widthMm, heightMm), shortMm: Math.min(widthMm, heightMm) };
}

/** The largest 8-connected component (ties: the first found in raster order); null when the image is empty. */
export function largestComponent(img: BinaryImage): BinaryImage | null {
  const { data, width, height } = img;
  const label = new Int32Array(width * height);
  const stack: number[] = [];
  let best = 0;
  let bestSize = 0;
  let next = 0;
  for (let start = 0; start < data.length; start++) {
    if (!data[start] || label[start]) continue;
    next++;
    let size = 0;
    label[start] = next;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      size++;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (data[q] && !label[q]) {
            label[q] = next;
            stack.push(q);
          }
        }
      }
    }
    if (size > bestSize) {
      bestSize = size;
      best = next;
    }
  }
  if (!best) return null;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < out.length; i++) out[i] = label[i] === best ? 1 : 0;
  return { data: out, width, height };
}

/**
 * Long and short axis in mm of a (single-component) mask with pixel spacing sx (columns) and sy (rows). Pixels
 * count with their full extent: the long axis is the diameter of the convex hull of the pixels' corners.
 */
export function axesFromMask(img: BinaryImage, sx: number, sy: number): Axes {
  const { data, width, height } = img;
  const corners: [number, number][] = [];
  const centres: [number, number][] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!data[y * width + x]) continue;
      centres.push([x * sx, y * sy]);
      const boundary = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !data[y * width + x - 1] || !data[y * width + x + 1] || !data[(y - 1) * width + x] || !data[(y + 1) * width + x];
      if (boundary) for (const [cx, cy] of [[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]) corners.push([(x + cx) * sx, (y + cy) * sy]);
    }
  }
  if (!centres.length) return { longMm: 0, shortMm: 0 };
  const hull = convexHull(corners);
  let longMm = 0;
  let ends: [[number, number], [number, number]] = [hull[0], hull[0]];
  for (let a = 0; a < hull.length; a++) {
    for (let b = a + 1; b < hull.length; b++) {
      const d = Math.hypot(hull[a][0] - hull[b][0], hull[a][1] - hull[b][1]);
      if (d > longMm) {
        longMm = d;
        ends = [hull[a], hull[b]];
      }
    }
  }
  // Short axis: along the long axis in bins one pixel wide, the extent perpendicular to it; the widest bin wins.
  const ux = longMm > 0 ? (ends[1][0] - ends[0][0]) / longMm : 1;
  const uy = longMm > 0 ? (ends[1][1] - ends[0][1]) / longMm : 0;
  const vx = -uy;
  const vy = ux;
  const bin = Math.min(sx, sy);
  const lo = new Map<number, number>();
  const hi = new Map<number, number>();
  for (const [px, py] of centres) {
    const t = Math.floor((px * ux + py * uy) / bin);
    const s = px * vx + py * vy;
    if (!(lo.get(t)! <= s)) lo.set(t, s);
    if (!(hi.get(t)! >= s)) hi.set(t, s);
  }
  const pixelExtent = Math.abs(vx) * sx + Math.abs(vy) * sy;
  let shortMm = 0;
  for (const [t, l] of lo) shortMm = Math.max(shortMm, hi.get(t)! - l + pixelExtent);
  return { longMm, shortMm: Math.min(shortMm, longMm) };
}

/** Andrew's monotone chain; returns the hull in counter-clockwise order without repeating the first point. */
export function convexHull(points: [number, number][]): [number, number][] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length <= 2) return pts;
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: [number, number][] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}
