import type { Volume } from '../../../src/dicom/volume';
import { boxToLPS, chainsToLesions, DEFAULT_LESION_OPTIONS, trackingUid, type AssembleContext, type PositionedDetection } from '../../../src/detect/lesions';
import type { Chain } from '../../../src/detect/link3d';
import { InPlaneGrid } from '../../../src/detect/preprocess';

/** 100x100x20 volume, 1 mm pixels, 2 mm slices at LPS z 0..38; sorted the other way round (normal -z) when flipped. */
function geometry(flipped = false): AssembleContext['volume'] {
  const normal: [number, number, number] = flipped ? [0, 0, -1] : [0, 0, 1];
  return {
    dims: [100, 100, 20],
    spacing: [1, 1, 2],
    origin: [-50, -50, flipped ? 38 : 0],
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal },
    slices: Array.from({ length: 20 }, (_, k) => ({ sopInstanceUID: `1.2.3.${k + 1}`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', frameNumber: 1, position: [-50, -50, flipped ? 38 - 2 * k : 2 * k] as [number, number, number] })),
    seriesInstanceUID: '1.2.3',
  };
}

function ctx(flipped = false): AssembleContext {
  // Input pixels 2 mm: input pixel u = original pixel 2u.
  return { volume: geometry(flipped), grid: new InPlaneGrid(100, 100, 1, 1, 2, 16), strideMm: 2, model: { name: 'm', version: '1' } };
}

const d = (zMm: number, box: [number, number, number, number], score: number, extra: Partial<PositionedDetection> = {}): PositionedDetection => ({
  position: zMm / 2,
  zMm,
  box,
  score,
  type: 'liver_lesion',
  heads: { universal: score },
  ...extra,
});

describe('chainsToLesions', () => {
  const chain: Chain<PositionedDetection> = { detections: [d(10, [10, 10, 20, 20], 0.6), d(12, [9, 9, 21, 22], 0.9), d(14, [10, 10, 20, 20], 0.5)] };

  it('3D box: union of 2D boxes in original pixels, z widened by half a stride, in LPS', () => {
    const { lesions } = chainsToLesions([chain], ctx());
    expect(lesions).toHaveLength(1);
    const l = lesions[0];
    // x: input 9..21 -> original 18..42 -> LPS -32..-8; z: 10-1..14+1 mm -> slices 4.5..7.5 -> LPS 9..15
    expect(l.bboxLPS).toEqual([-32, -32, 9, -8, -6, 15]);
    expect(l.score).toBeCloseTo((0.6 + 0.9 + 0.5) / 3); // default score: mean of the best three
    expect(l.id).toBe(1);
    expect(l.type).toBe('liver_lesion');
    expect(l.heads).toEqual({ universal: 0.9 });
  });

  it('key slice: the largest strong box, mapped to the original slice and pixels; box-based axes without a mask', () => {
    const { lesions, masks } = chainsToLesions([chain], ctx());
    const l = lesions[0];
    expect(l.keySlice).toEqual({ sopInstanceUID: '1.2.3.7', frameNumber: 1, box: [18, 18, 42, 44] });
    expect(l.longAxisMm).toBe(26);
    expect(l.shortAxisMm).toBe(24);
    expect(l.volumeMm3).toBeUndefined();
    expect(masks.size).toBe(0);
  });

  it('gives the same LPS box for a series stored in the opposite slice order', () => {
    const a = chainsToLesions([chain], ctx()).lesions[0].bboxLPS;
    // Flipped: slice k is at LPS z = 38 - 2k, so the same anatomy lies at 38 - z mm along the normal.
    const mirrored: Chain<PositionedDetection> = { detections: chain.detections.map((x) => ({ ...x, zMm: 38 - x.zMm, position: (38 - x.zMm) / 2 })) };
    const flipped = chainsToLesions([mirrored], ctx(true)).lesions[0];
    expect(flipped.bboxLPS).toEqual(a);
    expect(flipped.keySlice.sopInstanceUID).toBe('1.2.3.14'); // slice 13 of the flipped order is at LPS z 12, like slice 6 unflipped
  });

  it('orders by score, numbers from 1, suppresses weak single-slice chains', () => {
    const weak: Chain<PositionedDetection> = { detections: [d(30, [30, 30, 35, 35], 0.35)] };
    const strong: Chain<PositionedDetection> = { detections: [d(20, [40, 40, 45, 45], 0.95)] };
    const { lesions } = chainsToLesions([chain, weak, strong], ctx(), { ...DEFAULT_LESION_OPTIONS, minSingleScore: 0.4, chainScore: 'max' });
    expect(lesions.map((l) => [l.id, l.score])).toEqual([[1, 0.95], [2, 0.9]]);
    expect(new Set(lesions.map((l) => l.trackingUid)).size).toBe(2);
  });

  it('assembles only lesions reaching the reported cut, keeping ids 1..n in score order', () => {
    const strong: Chain<PositionedDetection> = { detections: [d(20, [40, 40, 45, 45], 0.95)] };
    const weak: Chain<PositionedDetection> = { detections: [d(30, [30, 30, 35, 35], 0.35)] };
    const all = chainsToLesions([chain, weak, strong], ctx(), { ...DEFAULT_LESION_OPTIONS, chainScore: 'max' }).lesions;
    const cut = chainsToLesions([chain, weak, strong], ctx(), { ...DEFAULT_LESION_OPTIONS, chainScore: 'max' }, 0.9);
    expect(all.map((l) => l.score)).toEqual([0.95, 0.9, 0.35]);
    expect(cut.lesions).toEqual(all.slice(0, 2));
  });

  // Mask at stride 4 over input pixels: a square of cells (2..4) x (2..4) = input pixels ~8..19.5 -> original 16..39
  const squareMaskChain = (): Chain<PositionedDetection> => {
    const cells = 10;
    const data = new Float32Array(cells * cells);
    for (let y = 2; y <= 4; y++) for (let x = 2; x <= 4; x++) data[y * cells + x] = 1;
    const mask = { x0: 0, y0: 0, width: cells, height: cells, data, stride: 4 };
    return { detections: [d(10, [8, 8, 20, 20], 0.8, { mask }), d(12, [8, 8, 20, 20], 0.7, { mask })] };
  };

  it('with the mask rule, measures on the mask: axes, per-slice masks on the original series, volume', () => {
    const { lesions, masks } = chainsToLesions([squareMaskChain()], ctx(), { ...DEFAULT_LESION_OPTIONS, longAxis: 'mask' });
    const l = lesions[0];
    const m = masks.get(1)!;
    // z 9..13 mm -> slices 4.5..6.5 -> frames on slices 5 and 6
    expect(m.frames.map((f) => f.sopInstanceUID)).toEqual(['1.2.3.6', '1.2.3.7']);
    const pixels = m.frames[0].data.reduce((s, v) => s + v, 0);
    // cells 2..4 have centres at input 9.5..17.5; the 0.5 iso-line lies half a cell outside: input ~7.5..19.5 -> original ~15..39
    const side = Math.sqrt(pixels);
    expect(side).toBeGreaterThan(20);
    expect(side).toBeLessThan(28);
    // A square with rounded corners (bilinear 0.5 iso-line): diameter between side and diagonal, short ~ side.
    expect(l.longAxisMm).toBeGreaterThan(side);
    expect(l.longAxisMm).toBeLessThan(Math.SQRT2 * side + 1);
    expect(l.shortAxisMm).toBeGreaterThan(side - 2);
    expect(l.shortAxisMm).toBeLessThanOrEqual(l.longAxisMm);
    expect(l.volumeMm3).toBeCloseTo(m.frames.reduce((s, f) => s + f.data.reduce((a, b) => a + b, 0), 0) * 2);
  });

  it('by default measures the key box (the rule chosen on validation); the mask still gives the SEG and the volume', () => {
    const byMask = chainsToLesions([squareMaskChain()], ctx(), { ...DEFAULT_LESION_OPTIONS, longAxis: 'mask' });
    const { lesions, masks } = chainsToLesions([squareMaskChain()], ctx());
    const l = lesions[0];
    const [x1, y1, x2, y2] = l.keySlice.box;
    // ctx's pixels are 1 mm: the box's sides in mm
    expect(l.longAxisMm).toBeCloseTo(Math.max(x2 - x1, y2 - y1), 1);
    expect(l.shortAxisMm).toBeCloseTo(Math.min(x2 - x1, y2 - y1), 1);
    expect(l.longAxisMm).not.toBeCloseTo(byMask.lesions[0].longAxisMm, 1);
    expect(masks.get(1)).toEqual(byMask.masks.get(1));
    expect(l.volumeMm3).toBe(byMask.lesions[0].volumeMm3);
  });
});

describe('boxToLPS and trackingUid', () => {
  it('takes the extremes over all corners for oblique directions', () => {
    const v = { origin: [0, 0, 0] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], direction: { row: [0, 1, 0] as [number, number, number], column: [-1, 0, 0] as [number, number, number], normal: [0, 0, 1] as [number, number, number] } };
    expect(boxToLPS(v as Pick<Volume, 'origin' | 'spacing' | 'direction'>, [0, 0, 0, 10, 20, 5])).toEqual([-20, 0, 0, 0, 10, 5]);
  });

  it('is a valid, deterministic 2.25 UID', () => {
    const a = trackingUid('1.2.3', { name: 'm', version: '1' }, 1, [0, 0, 0, 1, 1, 1]);
    expect(a).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(trackingUid('1.2.3', { name: 'm', version: '1' }, 1, [0, 0, 0, 1, 1, 1])).toBe(a);
    expect(trackingUid('1.2.3', { name: 'm', version: '2' }, 1, [0, 0, 0, 1, 1, 1])).not.toBe(a);
  });
});
