/**
 * The two stages chained (src/detect/proposal-classifier.ts): the shipped detector's candidates on a phantom study
 * rescored by the shipped proposal classifier (models/lens-fpr), real ONNX sessions both.
 */
import path from 'node:path';
import { loadDetector, type Detector } from '../../../src/detect/detector';
import { generateStudy } from '../../../src/synth/study';

const repo = path.resolve(__dirname, '../../..');

describe('detector + proposal classifier', () => {
  let detector: Detector;
  const study = generateStudy(424242, { size: 192, slices: 40, thickness: 5, region: 'chest', lesions: [3, 3] });
  beforeAll(async () => {
    detector = await loadDetector(path.join(repo, 'models/lens-ulb'), { threads: 1 }, {}, path.join(repo, 'models/lens-fpr'));
  });
  afterAll(() => detector.dispose());

  it('reports the first stage candidates rescored by the manifest rule, renumbered, at the final operating point', async () => {
    const second = detector.classifier!;
    const rule = second.manifest.scoring;
    const first = (await detector.detect(study.volume, { secondStage: false, scoreThreshold: rule.candidateScoreThreshold })).findings;
    const both = await detector.detect(study.volume, { scoreThreshold: 0 });
    const f = both.findings;
    expect(f.model.version).toContain(second.manifest.version);
    expect(f.timingsMs.classifier).toBeGreaterThanOrEqual(0);
    expect(f.lesions.length).toBe(Math.min(first.lesions.length, rule.maxCandidates));
    f.lesions.forEach((l, i) => {
      expect(l.id).toBe(i + 1);
      if (i > 0) expect(l.score).toBeLessThanOrEqual(f.lesions[i - 1].score);
      const det = l.heads!.detector, p = l.heads!.classifier;
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(l.score).toBeCloseTo(second.finalScore(det, p), 3);
      // Every second-stage finding is a first-stage candidate with the same box.
      expect(first.lesions.some((c) => c.score === det && JSON.stringify(c.bboxLPS) === JSON.stringify(l.bboxLPS))).toBe(true);
    });
    // The reported set at the manifest's operating point is the prefix of the ranking that reaches it.
    const reported = (await detector.detect(study.volume)).findings.lesions;
    expect(reported.map((l) => l.bboxLPS)).toEqual(f.lesions.filter((l) => l.score >= rule.finalScoreThreshold).map((l) => l.bboxLPS));
    const uids = new Set(f.lesions.map((l) => l.trackingUid));
    expect(uids.size).toBe(f.lesions.length);
  });
});
