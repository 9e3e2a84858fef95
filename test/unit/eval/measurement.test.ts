import type { BoxLPS, Findings, Lesion, TruthStudy } from '../../../src/detect/findings';
import { annotatedExtentMm, bestHit, measureLesions, summariseMeasurement } from '../../../src/eval/measurement';

const lesion = (bboxLPS: BoxLPS, score: number, longAxisMm: number): Lesion =>
  ({ id: 1, trackingUid: '2.25.1', type: 'lung_nodule', score, bboxLPS, keySlice: { sopInstanceUID: '1', box: [0, 0, 1, 1] }, longAxisMm, shortAxisMm: longAxisMm / 2, heads: {} }) as Lesion;
const findings = (uid: string, lesions: Lesion[]): Findings => ({ studyInstanceUID: uid, seriesInstanceUID: 's', model: { name: 'm', version: '1', executionProvider: 'cpu' }, lesions, timingsMs: {} });

describe('long-axis agreement', () => {
  it('the annotated extent is the larger in-plane side of the truth box, not its z extent', () => {
    expect(annotatedExtentMm({ bboxLPS: [0, 0, 0, 69, 87.6, 55] })).toBeCloseTo(87.6);
    expect(annotatedExtentMm({ bboxLPS: [0, 0, 0, 10, 12, 80] })).toBeCloseTo(12);
  });

  it('measures each lesion by the best-ranked finding that hits it, and counts the unfound as unmeasured', () => {
    const truth: TruthStudy = {
      studyInstanceUID: 'a',
      seriesInstanceUIDs: ['s'],
      lesions: [
        { type: 'lung_nodule', bboxLPS: [0, 0, 0, 40, 40, 40] },
        { type: 'liver_lesion', bboxLPS: [100, 100, 100, 120, 110, 110] },
        { type: 'bone_lesion', bboxLPS: [300, 300, 300, 310, 310, 310] },
      ],
    };
    const f = findings('a', [
      lesion([10, 10, 10, 30, 30, 30], 0.4, 20), // inside the nodule, lower score
      lesion([0, 0, 0, 40, 40, 40], 0.9, 45), // the nodule, best ranked
      lesion([100, 100, 100, 120, 110, 110], 0.5, 10), // the liver lesion, half its extent
      lesion([500, 500, 500, 510, 510, 510], 0.95, 10), // a false finding above all
    ]);
    expect(bestHit([...f.lesions].sort((x, y) => y.score - x.score), truth.lesions[0])?.rank).toBe(2);
    const { lesions, measured } = measureLesions([truth], [f]);
    expect(lesions).toBe(3);
    expect(measured.map((m) => [m.type, m.reportedMm, m.annotatedMm])).toEqual([
      ['lung_nodule', 45, 40],
      ['liver_lesion', 10, 20],
    ]);
    const s = summariseMeasurement(lesions, measured);
    expect(s.withinTolerance).toBe(1);
    expect(s.medianError).toBeCloseTo((0.125 - 0.5) / 2);
    expect(s.perType.liver_lesion).toEqual({ measured: 1, withinTolerance: 0, medianError: -0.5 });
  });

  it('25 % on the boundary counts as within', () => {
    const s = summariseMeasurement(1, [{ type: 't', annotatedMm: 80, reportedMm: 60, relativeError: -0.25 }]);
    expect(s.withinTolerance).toBe(1);
  });
});
