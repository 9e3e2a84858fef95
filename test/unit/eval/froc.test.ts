import type { BoxLPS, Findings, Lesion, TruthStudy } from '../../../src/detect/findings';
import { evaluate, FP_RATES, iobb } from '../../../src/eval/froc';

const truthStudy = (uid: string, boxes: BoxLPS[], type = 'lung_nodule'): TruthStudy => ({
  studyInstanceUID: uid,
  seriesInstanceUIDs: [`${uid}.1`],
  lesions: boxes.map((bboxLPS) => ({ type, bboxLPS })),
});

const findings = (uid: string, preds: [BoxLPS, number][]): Findings => ({
  studyInstanceUID: uid,
  seriesInstanceUID: `${uid}.1`,
  model: { name: 't', version: '0', executionProvider: 'cpu' },
  lesions: preds.map(([bboxLPS, score], i) => ({ id: i + 1, score, bboxLPS }) as unknown as Lesion),
  timingsMs: {},
});

const cube = (x: number, y: number, z: number, s: number): BoxLPS => [x, y, z, x + s, y + s, z + s];
const sens = (r: ReturnType<typeof evaluate>) => r.sensitivityAtFp.map((s) => s.sensitivity);

describe('iobb', () => {
  it('is intersection over the predicted box volume, not the union', () => {
    const truth = cube(0, 0, 0, 10);
    expect(iobb(cube(0, 0, 0, 10), truth)).toBeCloseTo(1);
    // A predicted box inside a large truth box is a full hit by IoBB even though its IoU is small.
    expect(iobb(cube(2, 2, 2, 2), truth)).toBeCloseTo(1);
    // A predicted box twice as large in x: half of it overlaps.
    expect(iobb([0, 0, 0, 20, 10, 10], truth)).toBeCloseTo(0.5);
    expect(iobb(cube(20, 0, 0, 10), truth)).toBe(0);
    expect(iobb([1, 1, 1, 1, 5, 5], truth)).toBe(0); // degenerate prediction
  });
});

describe('evaluate (docs/contracts.md#evaluation-protocol)', () => {
  it('perfect predictions: sensitivity 1 at every FP rate', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)]), truthStudy('2', [cube(50, 50, 50, 8)])];
    const r = evaluate(truth, [findings('1', [[cube(0, 0, 0, 10), 0.9]]), findings('2', [[cube(50, 50, 50, 8), 0.8]])]);
    expect(sens(r)).toEqual(FP_RATES.map(() => 1));
    expect(r.averageSensitivity).toBe(1);
    expect(r.volumes).toBe(2);
    expect(r.lesions).toBe(2);
  });

  it('shifted boxes: a hit just above IoBB 0.3, a false positive just below', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)])];
    // Shift along x by 6.9 mm: overlap 3.1/10 = 0.31 -> hit.
    const above = evaluate(truth, [findings('1', [[cube(6.9, 0, 0, 10), 0.5]])]);
    expect(iobb(cube(6.9, 0, 0, 10), truth[0].lesions[0].bboxLPS)).toBeCloseTo(0.31);
    expect(above.curve).toEqual([{ threshold: 0.5, hits: 1, falsePositives: 0, sensitivity: 1, fpPerVolume: 0 }]);
    // Shift by 7.1 mm: overlap 0.29 -> no hit, and the prediction is a false positive.
    const below = evaluate(truth, [findings('1', [[cube(7.1, 0, 0, 10), 0.5]])]);
    expect(below.curve).toEqual([{ threshold: 0.5, hits: 0, falsePositives: 1, sensitivity: 0, fpPerVolume: 1 }]);
    expect(sens(below)).toEqual(FP_RATES.map(() => 0));
  });

  it('duplicated predictions on a found lesion count once and are not false positives', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10), cube(100, 0, 0, 10)])];
    const r = evaluate(truth, [findings('1', [[cube(0, 0, 0, 10), 0.9], [cube(1, 1, 1, 9), 0.8], [cube(0, 0, 0, 9), 0.7]])]);
    expect(r.curve.map((p) => [p.hits, p.falsePositives])).toEqual([[1, 0], [1, 0], [1, 0]]);
    expect(sens(r)).toEqual(FP_RATES.map(() => 0.5));
  });

  it('false positives above the true hit limit the sensitivity at low FP rates', () => {
    // 2 volumes; 4 false positives (scores 0.9..0.6) outrank the only true hit (0.5) in volume 1.
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)]), truthStudy('2', [])];
    const fp = (s: number): [BoxLPS, number] => [cube(200, 200, 200, 5), s];
    const r = evaluate(truth, [findings('1', [fp(0.9), fp(0.8), [cube(0, 0, 0, 10), 0.5]]), findings('2', [fp(0.7), fp(0.6)])]);
    // Operating points: FPs/volume 0.5, 1, 1.5, 2 before the hit enters at 2 FPs/volume.
    expect(r.curve.map((p) => p.fpPerVolume)).toEqual([0.5, 1, 1.5, 2, 2]);
    expect(sens(r)).toEqual([0, 0, 0, 0, 1, 1, 1]);
    expect(r.averageSensitivity).toBeCloseTo(3 / 7);
    expect(r.sensitivityAtFp[4].threshold).toBe(0.5);
  });

  it('empty predictions: sensitivity 0, every volume still counts', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)]), truthStudy('2', [cube(0, 0, 0, 10)])];
    const r = evaluate(truth, [findings('1', [])]);
    expect(r.predictions).toBe(0);
    expect(r.volumes).toBe(2);
    expect(sens(r)).toEqual(FP_RATES.map(() => 0));
    expect(r.perType.types.lung_nodule).toEqual({ lesions: 2, found: 0, sensitivity: 0 });
  });

  it('multiple volumes: predictions only hit lesions of their own study; FPs are per volume', () => {
    const box = cube(0, 0, 0, 10);
    const truth = [truthStudy('1', [box]), truthStudy('2', [box], 'liver_lesion'), truthStudy('3', [box]), truthStudy('4', [])];
    // Study 2's prediction sits where study 1's lesion would be, but in study 4 (no lesions) it is a false positive.
    const r = evaluate(truth, [findings('1', [[box, 0.9]]), findings('4', [[box, 0.8]]), findings('2', [[box, 0.7]]), findings('9', [[box, 0.99]])]);
    expect(r.curve.map((p) => [p.threshold, p.hits, p.falsePositives])).toEqual([[0.9, 1, 0], [0.8, 1, 1], [0.7, 2, 1]]);
    // 1 FP over 4 volumes = 0.25 FPs/volume.
    expect(r.curve[2].fpPerVolume).toBe(0.25);
    expect(sens(r)).toEqual([1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3]);
    expect(r.unmatchedFindings).toEqual(['9']);
    expect(r.perType.types).toEqual({ lung_nodule: { lesions: 2, found: 1, sensitivity: 0.5 }, liver_lesion: { lesions: 1, found: 1, sensitivity: 1 } });
  });

  it('predictions of equal score enter together', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)])];
    const r = evaluate(truth, [findings('1', [[cube(300, 0, 0, 5), 0.6], [cube(0, 0, 0, 10), 0.6]])]);
    expect(r.curve).toHaveLength(1);
    expect(r.curve[0]).toMatchObject({ hits: 1, falsePositives: 1 });
    expect(sens(r)).toEqual([0, 0, 0, 1, 1, 1, 1]);
  });

  it('per-type sensitivity uses the operating point at 4 FPs/volume', () => {
    const truth = [truthStudy('1', [cube(0, 0, 0, 10)], 'bone_lesion')];
    const fps: [BoxLPS, number][] = Array.from({ length: 5 }, (_, i) => [cube(100 + 20 * i, 0, 0, 5), 0.9 - i * 0.01]);
    // The lesion is found only after 5 FPs: beyond 4 FPs/volume.
    const r = evaluate(truth, [findings('1', [...fps, [cube(0, 0, 0, 10), 0.1]])]);
    expect(r.perType.types.bone_lesion.found).toBe(0);
    expect(r.sensitivityAtFp.find((s) => s.fpPerVolume === 8)!.sensitivity).toBe(1);
  });
});
