import type { Box2D } from '../../../src/detect/box2d';
import { DEFAULT_LINK, linkDetections, type SliceDetection } from '../../../src/detect/link3d';
import { axesFromBox, axesFromMask, largestComponent, type BinaryImage } from '../../../src/detect/measure';

const det = (position: number, box: Box2D, score = 0.8, type: SliceDetection['type'] = 'liver_lesion'): SliceDetection => ({ position, box, score, type, heads: { universal: score } });

describe('linkDetections', () => {
  it('links overlapping detections on neighbouring positions into one chain and keeps separate lesions apart', () => {
    const chains = linkDetections([
      det(0, [10, 10, 20, 20]),
      det(1, [11, 11, 21, 21]),
      det(2, [12, 11, 22, 21]),
      det(1, [100, 100, 110, 110]),
      det(2, [101, 100, 111, 110]),
    ]);
    expect(chains.map((c) => c.detections.map((d) => d.position))).toEqual([[0, 1, 2], [1, 2]]);
  });

  it('with maxGap 1 bridges one missing position but not two', () => {
    const gap1 = { ...DEFAULT_LINK, maxGap: 1 };
    const one = linkDetections([det(0, [0, 0, 10, 10]), det(2, [0, 0, 10, 10])], gap1);
    expect(one).toHaveLength(1);
    const two = linkDetections([det(0, [0, 0, 10, 10]), det(3, [0, 0, 10, 10])], gap1);
    expect(two).toHaveLength(2);
  });

  it('by default (maxGap 0) links consecutive positions only', () => {
    expect(linkDetections([det(0, [0, 0, 10, 10]), det(1, [0, 0, 10, 10])])).toHaveLength(1);
    expect(linkDetections([det(0, [0, 0, 10, 10]), det(2, [0, 0, 10, 10])])).toHaveLength(2);
  });

  it('links a type flip only when the boxes overlap strongly', () => {
    expect(linkDetections([det(0, [0, 0, 10, 10], 0.8, 'lymph_node'), det(1, [0, 0, 10, 10], 0.8, 'soft_tissue')])).toHaveLength(1);
    expect(linkDetections([det(0, [0, 0, 10, 10], 0.8, 'lymph_node'), det(1, [4, 0, 14, 10], 0.8, 'soft_tissue')])).toHaveLength(2);
  });

  it('assigns each detection to at most one chain, best overlap first', () => {
    const chains = linkDetections([det(0, [0, 0, 10, 10]), det(0, [8, 0, 18, 10]), det(1, [7, 0, 17, 10])]);
    const linked = chains.find((c) => c.detections.length === 2)!;
    expect(linked.detections[0].box).toEqual([8, 0, 18, 10]);
    expect(chains).toHaveLength(2);
  });
});

function disc(w: number, h: number, cx: number, cy: number, rx: number, ry: number, angle = 0): BinaryImage {
  const data = new Uint8Array(w * h);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const u = (x - cx) * c + (y - cy) * s;
      const v = -(x - cx) * s + (y - cy) * c;
      if ((u / rx) ** 2 + (v / ry) ** 2 <= 1) data[y * w + x] = 1;
    }
  return { data, width: w, height: h };
}

describe('measurements', () => {
  it('box fallback: long = max side, short = min side', () => {
    expect(axesFromBox(12, 30)).toEqual({ longMm: 30, shortMm: 12 });
  });

  it('an axis-aligned ellipse: long and short axis match its diameters within a pixel', () => {
    const img = disc(80, 80, 40, 40, 30, 12);
    const a = axesFromMask(img, 0.5, 0.5);
    expect(a.longMm).toBeGreaterThan(30 - 0.5);
    expect(a.longMm).toBeLessThan(31 + 0.75);
    expect(a.shortMm).toBeGreaterThan(12 - 0.5);
    expect(a.shortMm).toBeLessThan(13 + 0.75);
  });

  it('an oblique ellipse: the axes follow the shape, not the box', () => {
    const a = axesFromMask(disc(100, 100, 50, 50, 40, 10, Math.PI / 4), 1, 1);
    expect(a.longMm).toBeGreaterThan(79);
    expect(a.longMm).toBeLessThan(83);
    expect(a.shortMm).toBeGreaterThan(18.5);
    expect(a.shortMm).toBeLessThan(23);
    // the box of this ellipse is ~58 x 58 mm: the fallback would say short = 58
  });

  it('anisotropic pixels are measured in mm', () => {
    // 20 x 10 pixels filled, spacing 0.5 x 2 mm: 10 mm x 20 mm.
    const data = new Uint8Array(30 * 20);
    for (let y = 5; y < 15; y++) for (let x = 5; x < 25; x++) data[y * 30 + x] = 1;
    const a = axesFromMask({ data, width: 30, height: 20 }, 0.5, 2);
    expect(a.longMm).toBeCloseTo(Math.hypot(10, 20), 5);
    expect(a.shortMm).toBeGreaterThan(0);
  });

  it('largestComponent keeps only the biggest blob', () => {
    const a = disc(60, 30, 15, 15, 10, 10);
    const b = disc(60, 30, 45, 15, 4, 4);
    const both = { data: a.data.map((v, i) => v | b.data[i]), width: 60, height: 30 };
    const big = largestComponent(both)!;
    expect(big.data.reduce((s, v) => s + v, 0)).toBe(a.data.reduce((s, v) => s + v, 0));
    expect(largestComponent({ data: new Uint8Array(4), width: 2, height: 2 })).toBeNull();
  });
});
