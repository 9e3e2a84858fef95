import { decodeHead, type HeadMaps } from '../../../src/detect/decode';
import { calibratedScore, fuseDetections } from '../../../src/detect/fuse';

/** Maps of one head with `channels` classes on an h x w grid, all zero except what `set` writes. */
function maps(channels: number, h: number, w: number): HeadMaps & { put: (c: number, x: number, y: number, v: number, size?: [number, number], off?: [number, number]) => void } {
  const m = { heatmap: new Float32Array(channels * h * w), size: new Float32Array(2 * h * w), offset: new Float32Array(2 * h * w), channels, h, w };
  return {
    ...m,
    put(c, x, y, v, size = [8, 4], off = [0.5, 0.25]) {
      const i = y * w + x;
      m.heatmap[c * h * w + i] = v;
      m.size[i] = size[0];
      m.size[h * w + i] = size[1];
      m.offset[i] = off[0];
      m.offset[h * w + i] = off[1];
    },
  };
}

describe('decodeHead', () => {
  it('keeps 3x3 local maxima above the threshold and builds boxes from size and offset', () => {
    const m = maps(2, 10, 12);
    m.put(0, 3, 4, 0.9, [8, 4], [0.5, 0.25]);
    m.put(0, 4, 4, 0.6); // neighbour of a stronger peak: suppressed
    m.put(1, 4, 4, 0.7); // same cell, another channel: its own peak
    m.put(0, 9, 8, 0.2); // below threshold
    const d = decodeHead(m, 4, 0.3, 10);
    expect(d.map((x) => [x.channel, x.cell, x.score])).toEqual([
      [0, [3, 4], expect.closeTo(0.9, 5)],
      [1, [4, 4], expect.closeTo(0.7, 5)],
    ]);
    // centre ((3 + 0.5) * 4, (4 + 0.25) * 4) = (14, 17), size 8 x 4
    expect(d[0].box).toEqual([10, 15, 18, 19]);
  });

  it('returns the top K by score', () => {
    const m = maps(1, 20, 20);
    [0.5, 0.9, 0.7, 0.8].forEach((v, i) => m.put(0, 2 + 4 * i, 2, v));
    expect(decodeHead(m, 4, 0.1, 2).map((d) => d.score)).toEqual([expect.closeTo(0.9, 5), expect.closeTo(0.8, 5)]);
  });

  it('keeps both cells of a plateau (max-pool NMS semantics)', () => {
    const m = maps(1, 5, 5);
    m.put(0, 1, 1, 0.5);
    m.put(0, 2, 1, 0.5);
    expect(decodeHead(m, 4, 0.3, 10)).toHaveLength(2);
  });
});

describe('fuseDetections', () => {
  it('merges overlapping proposals of several heads into one weighted box and keeps per-head scores', () => {
    const f = fuseDetections(
      [
        { head: 'universal', type: 'liver_lesion', box: [10, 10, 30, 30], score: 0.8 },
        { head: 'lits', type: 'liver_lesion', box: [12, 12, 32, 32], score: 0.4 },
        { head: 'luna', type: 'lung_nodule', box: [100, 100, 110, 110], score: 0.5 },
      ],
      0.55,
    );
    expect(f).toHaveLength(2);
    expect(f[0].score).toBeCloseTo(0.8);
    expect(f[0].type).toBe('liver_lesion');
    expect(f[0].heads).toEqual({ universal: 0.8, lits: 0.4 });
    // weighted mean: (10 * 0.8 + 12 * 0.4) / 1.2
    expect(f[0].box[0]).toBeCloseTo(10.6667, 3);
    expect(f[1]).toMatchObject({ type: 'lung_nodule', heads: { luna: 0.5 } });
  });

  it('does not merge below the IoU threshold', () => {
    const f = fuseDetections(
      [
        { head: 'a', type: 'lymph_node', box: [0, 0, 10, 10], score: 0.9 },
        { head: 'a', type: 'lymph_node', box: [6, 0, 16, 10], score: 0.8 },
      ],
      0.55,
    );
    expect(f).toHaveLength(2);
  });
});

describe('calibratedScore', () => {
  it('keeps an uncalibrated head\'s score and maps a calibrated one monotonically by its Platt scaling', () => {
    expect(calibratedScore(undefined, 0.42)).toBe(0.42);
    // a = 1, b = 0 is the identity; b < 0 lowers every score of that head, keeping its order.
    expect(calibratedScore({ a: 1, b: 0 }, 0.42)).toBeCloseTo(0.42, 10);
    const c = { a: 2, b: -1 };
    expect(calibratedScore(c, 0.5)).toBeCloseTo(1 / (1 + Math.exp(1)), 10);
    expect(calibratedScore(c, 0.3)).toBeLessThan(calibratedScore(c, 0.4));
    expect(calibratedScore(c, 1)).toBeLessThan(1);
  });

  it('decides which head\'s detection leads a fused proposal', () => {
    // Raw scores favour the single-type head; on the common scale the universal head's detection is the surer one.
    const cal = { universal: { a: 1, b: 1 }, luna: { a: 1, b: -1.5 } };
    const f = fuseDetections(
      [
        { head: 'universal', type: 'liver_lesion', box: [10, 10, 30, 30], score: calibratedScore(cal.universal, 0.5) },
        { head: 'luna', type: 'lung_nodule', box: [11, 11, 31, 31], score: calibratedScore(cal.luna, 0.7) },
      ],
      0.55,
    );
    expect(f).toHaveLength(1);
    expect(f[0].type).toBe('liver_lesion');
    expect(f[0].score).toBeCloseTo(1 / (1 + Math.exp(-1)), 10);
  });
});
