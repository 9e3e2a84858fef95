/**
 * Lesion-level scoring on constructed chains: evidence from several positions (meanTop3), the 3D compactness prior
 * (elongation of vessel-like chains) and 3D suppression of a lesion lying inside a better one.
 */
import { iobb } from '../../../src/detect/box3d';
import type { Box2D } from '../../../src/detect/box2d';
import {
  chainScore,
  chainsToLesions,
  DEFAULT_LESION_OPTIONS,
  elongation,
  lesionScore,
  type AssembleContext,
  type LesionOptions,
  type PositionedDetection,
} from '../../../src/detect/lesions';
import type { Chain } from '../../../src/detect/link3d';
import { InPlaneGrid } from '../../../src/detect/preprocess';

const geo = { pixelMm: 2, strideMm: 2.5 };

function det(position: number, box: Box2D, score: number): PositionedDetection {
  return { position, zMm: position * geo.strideMm, box, score, type: 'lung_nodule', heads: { universal: score } };
}

/** A chain of square boxes of side `side` input pixels at centres (cx, cy) per position. */
function chain(centres: [number, number][], side: number, scores: number[], from = 0): Chain<PositionedDetection> {
  return { detections: centres.map(([cx, cy], i) => det(from + i, [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], scores[i])) };
}

const opts = (o: Partial<LesionOptions>): LesionOptions => ({ ...DEFAULT_LESION_OPTIONS, ...o });

describe('chainScore', () => {
  const c = chain([[10, 10], [10, 10], [10, 10], [10, 10]], 4, [0.5, 0.9, 0.7, 0.3]);
  it('max, mean of the top two and of the top three', () => {
    expect(chainScore(c, 'max')).toBeCloseTo(0.9);
    expect(chainScore(c, 'meanTop2')).toBeCloseTo(0.8);
    expect(chainScore(c, 'meanTop3')).toBeCloseTo(0.7);
  });
  it('a chain shorter than three counts the missing detections as 0', () => {
    expect(chainScore(chain([[10, 10]], 4, [0.9]), 'meanTop3')).toBeCloseTo(0.3);
    expect(chainScore(chain([[10, 10], [10, 10]], 4, [0.9, 0.6]), 'meanTop3')).toBeCloseTo(0.5);
  });
});

describe('elongation and the compactness prior', () => {
  // 10 mm nodule: 5 input pixels (2 mm) wide, seen on 4 positions 2.5 mm apart -> z extent 10 mm.
  const nodule = chain([[20, 20], [20, 20], [20, 20], [20, 20]], 5, [0.6, 0.8, 0.8, 0.6]);
  // Vessel of 4 mm calibre along z over 12 positions (30 mm).
  const vertical = chain(Array.from({ length: 12 }, () => [50, 50] as [number, number]), 2, Array(12).fill(0.8));
  // Oblique vessel: 4 positions (10 mm of z) but its centre drifts 3 pixels (6 mm) per position.
  const oblique = chain([[30, 30], [33, 30], [36, 30], [39, 30]], 2, [0.6, 0.8, 0.8, 0.6]);

  it('is about 1 for a compact chain and large for a tube along z or a drifting one', () => {
    expect(elongation(nodule, geo)).toBeCloseTo(1, 5);
    expect(elongation(vertical, geo)).toBeCloseTo(30 / 4, 5);
    expect(elongation(oblique, geo)).toBeCloseTo(Math.hypot(10, 18) / 4, 5);
  });

  it('reduces the score above maxElongation only', () => {
    const o = opts({ chainScore: 'max', maxElongation: 2, elongationPower: 1 });
    expect(lesionScore(nodule, o, geo)).toBeCloseTo(0.8);
    expect(lesionScore(vertical, o, geo)).toBeCloseTo(0.8 * (2 / 7.5));
    expect(lesionScore(oblique, o, geo)).toBeLessThan(0.8 * 0.5);
    expect(lesionScore(vertical, opts({ chainScore: 'max', maxElongation: Infinity }), geo)).toBeCloseTo(0.8);
    // The defaults (mean of the top three, maxElongation 1.5) keep the compact nodule above both vessels.
    const nod = lesionScore(nodule, DEFAULT_LESION_OPTIONS, geo);
    expect(nod).toBeCloseTo(0.8 * 2 / 3 + 0.6 / 3);
    expect(lesionScore(vertical, DEFAULT_LESION_OPTIONS, geo)).toBeLessThan(nod / 2);
    expect(lesionScore(oblique, DEFAULT_LESION_OPTIONS, geo)).toBeLessThan(nod / 2);
  });
});

describe('3D suppression', () => {
  it('iobb3d is the intersection over the first box', () => {
    expect(iobb([0, 0, 0, 2, 2, 2], [0, 0, 0, 4, 4, 4])).toBe(1);
    expect(iobb([0, 0, 0, 4, 4, 4], [0, 0, 0, 2, 2, 2])).toBeCloseTo(1 / 8);
    expect(iobb([0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3])).toBe(0);
  });

  const volume: AssembleContext['volume'] = {
    dims: [200, 200, 40],
    spacing: [1, 1, 2.5],
    origin: [0, 0, 0],
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal: [0, 0, 1] },
    slices: Array.from({ length: 40 }, (_, k) => ({ sopInstanceUID: `1.2.${k + 1}`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', frameNumber: 1, position: [0, 0, 2.5 * k] as [number, number, number] })),
    seriesInstanceUID: '1.2',
  };
  const ctx: AssembleContext = { volume, grid: new InPlaneGrid(200, 200, 1, 1, 2, 16), strideMm: 2.5, model: { name: 'm', version: '1' } };

  const big = chain([[40, 40], [40, 40], [40, 40], [40, 40]], 12, [0.7, 0.9, 0.9, 0.7]);
  // The same object's tail, split off into its own chain (e.g. after a gap), inside the big box.
  const tail = chain([[41, 40], [41, 40]], 6, [0.5, 0.6], 1);
  const elsewhere = chain([[80, 80], [80, 80]], 6, [0.5, 0.6], 1);

  it('drops a lesion lying inside a better one, keeps separate ones; off by default', () => {
    const on = chainsToLesions([tail, big, elsewhere], ctx, opts({ chainScore: 'max', nmsIoBB: 0.5 })).lesions;
    expect(on.map((l) => l.score)).toEqual([0.9, 0.6]);
    expect(on[1].bboxLPS[0]).toBeGreaterThan(100);
    expect(chainsToLesions([tail, big, elsewhere], ctx).lesions).toHaveLength(3);
  });
});
