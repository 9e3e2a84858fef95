import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BoxLPS } from '../../../src/detect/findings';
import { DATASET_FORMAT, HarvestDataset, type HarvestRecord } from '../../../src/harvest/dataset';
import { thresholdsFromDataset } from '../../../src/harvest/harvest-run';
import { configSchema } from '../../../src/config/schema';
import { DEFAULT_SCORING } from '../../../src/detect/proposal-classifier';
import { chooseThresholds, thresholdPolicy, thresholdsWarning, classifyCandidates, matches, type Candidate } from '../../../src/harvest/proposals';

const box = (x: number, y: number, z: number, s = 10): BoxLPS => [x, y, z, x + s, y + s, z + s];
const candidate = (id: number, b: BoxLPS, score: number): Candidate => ({
  id, type: 'lesion', bboxLPS: b, keySlice: { sopInstanceUID: '1.2.3', box: [0, 0, 1, 1] }, longAxisMm: 10, shortAxisMm: 8, detectorScore: score, classifierProbability: score, score,
});

describe('matching and classifying candidates', () => {
  test('a candidate matches a label whose centre it covers, or which holds 30 % of it', () => {
    expect(matches(box(0, 0, 0), box(2, 2, 2))).toBe(true);
    expect(matches(box(0, 0, 0, 40), box(50, 50, 50))).toBe(false);
    // Does not cover the label's centre (15) but lies 50 % inside the label box along x.
    expect(matches([10, 0, 0, 14, 10, 10], [0, 0, 0, 12, 10, 10])).toBe(true);
  });

  test('labels, rejected findings, thresholds and completely annotated studies decide each status', () => {
    const labels = [{ bboxLPS: box(0, 0, 0) }];
    const rejected = [{ bboxLPS: box(100, 0, 0) }];
    const cands = [candidate(1, box(1, 1, 1), 0.5), candidate(2, box(101, 1, 1), 0.99), candidate(3, box(200, 0, 0), 0.99), candidate(4, box(300, 0, 0), 0.1), candidate(5, box(400, 0, 0), 0.5)];
    const t = { high: 0.9, low: 0.2 };
    expect(classifyCandidates(cands, labels, rejected, t, false).map((c) => [c.status, c.why, c.label])).toEqual([
      ['label', undefined, 0],
      ['hard-negative', 'rejected-by-reader', undefined],
      ['harvested', undefined, undefined],
      ['hard-negative', 'below-low', undefined],
      ['uncertain', undefined, undefined],
    ]);
    expect(classifyCandidates(cands, labels, rejected, t, true).map((c) => c.status)).toEqual(['label', 'hard-negative', 'hard-negative', 'hard-negative', 'hard-negative']);
    expect(classifyCandidates(cands, labels, [], { high: null, low: 0.2 }, false)[2].status).toBe('uncertain');
  });
});

describe('choosing the thresholds on the completely annotated studies', () => {
  const policy = { minCandidates: 5, minPrecision: 0.9, maxLesionFractionBelowLow: 0, defaults: { high: 0.985, low: 0.2 } };

  test('high: lowest score reaching the precision; low: highest score with no lesion below it', () => {
    // scores 1.0 .. 0.05: lesions at 1.0, 0.95, 0.9, 0.8 and 0.3; negatives elsewhere.
    const lesionAt = new Set([1, 0.95, 0.9, 0.8, 0.3]);
    const samples = Array.from({ length: 20 }, (_, i) => +(1 - i * 0.05).toFixed(2)).map((s) => ({ score: s, lesion: lesionAt.has(s) }));
    const t = chooseThresholds(samples, 3, policy);
    // >= 0.9: 3/3; >= 0.85: 3/4 (0.75); >= 0.8: 4/5 (0.8): the lowest reaching 0.9 is 0.9.
    expect(t.high).toBe(0.9);
    expect(t.low).toBe(0.3);
    expect(t.method).toBe('fully-labeled');
    expect(t.chosenOn).toMatchObject({ studies: 3, candidates: 20, lesions: 5, precisionAtHigh: 1, lesionsAtHigh: 3, lesionFractionBelowLow: 0 });
  });

  test('no score reaches the precision: nothing is harvested; too few candidates: the defaults', () => {
    const samples = Array.from({ length: 10 }, (_, i) => ({ score: i / 10, lesion: i % 2 === 0 }));
    expect(chooseThresholds(samples, 1, { ...policy, minPrecision: 1 }).high).toBeNull();
    expect(chooseThresholds(samples.slice(0, 3), 1, policy)).toEqual({ ...policy.defaults, method: 'defaults' });
  });

  test('thresholds that fall back to the defaults are said aloud; chosen ones are not', () => {
    const samples = Array.from({ length: 10 }, (_, i) => ({ score: i / 10, lesion: i % 2 === 0 }));
    const defaults = chooseThresholds(samples.slice(0, 3), 1, policy);
    expect(thresholdsWarning(defaults, policy)).toMatch(new RegExp(`are the defaults \\(high ${policy.defaults.high}, low ${policy.defaults.low}\\): fewer than ${policy.minCandidates} candidates of completely annotated studies`));
    expect(thresholdsWarning(chooseThresholds(samples, 1, { ...policy, minCandidates: 5 }), policy)).toBeUndefined();
  });

  test('the default high threshold: the configured one, else the classifier\'s operating point; none without one, and nothing is harvested', () => {
    const harvest = configSchema.parse({}).harvest;
    const classifier = (finalScoreThreshold: number) => ({ manifest: { scoring: { ...DEFAULT_SCORING, finalScoreThreshold } } }) as Parameters<typeof thresholdPolicy>[1];
    expect(thresholdPolicy(harvest, classifier(0.593)).defaults).toEqual({ high: 0.593, low: harvest.defaultLowThreshold });
    expect(thresholdPolicy({ ...harvest, defaultHighThreshold: 0.9 }, classifier(0.593)).defaults.high).toBe(0.9);
    // An archive's classifier is exported without an operating point (0): a high threshold of 0 would harvest everything.
    const none = thresholdPolicy(harvest, classifier(0));
    expect(none.defaults.high).toBeNull();
    const t = chooseThresholds([], 0, none);
    expect(t).toEqual({ high: null, low: harvest.defaultLowThreshold, method: 'defaults' });
    expect(classifyCandidates([candidate(1, box(0, 0, 0), 0.99)], [], [], t, false)[0].status).toBe('uncertain');
    expect(thresholdsWarning(t, none)).toMatch(/high none: nothing is harvested, the classifier has no operating point and harvest.defaultHighThreshold is unset/);
  });

  test('the dataset\'s completely annotated records of the same models are the samples', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harvest-thresholds-'));
    try {
      const ds = new HarvestDataset(dir);
      const models = { detector: 'd-1', classifier: 'c-1' };
      const rec = (uid: string, complete: boolean, m = models): HarvestRecord => ({
        format: DATASET_FORMAT, studyInstanceUID: uid, source: 'test', harvestedAt: '', modelVersions: m, runId: 'r',
        srs: { own: [], readers: [] }, completelyAnnotated: { value: complete, by: [] }, existingLabels: [], rejectedFindings: [], annotationsWithoutGeometry: 0,
        matched: [0.9, 0.8, 0.7].map((s, i) => ({ ...candidate(i + 1, box(0, 0, 0), s), status: 'label' as const })),
        harvested: [], uncertain: [],
        hardNegatives: [0.5, 0.3, 0.1].map((s, i) => ({ ...candidate(i + 4, box(0, 0, 0), s), status: 'hard-negative' as const })),
      });
      ds.writeRecord(rec('1.1', true));
      ds.writeRecord(rec('1.2', false));
      ds.writeRecord(rec('1.3', true, { detector: 'd-2', classifier: 'c-1' }));
      const t = thresholdsFromDataset(ds, models, policy);
      expect(t.chosenOn).toMatchObject({ studies: 1, candidates: 6, lesions: 3 });
      expect(t.high).toBe(0.7);
      expect(t.low).toBe(0.7);
      expect(ds.isHarvested('1.2', models)).toBe(true);
      expect(ds.isHarvested('1.3', models)).toBe(false);
      expect(ds.isHarvested('1.4', models)).toBe(false);
      expect(fs.readdirSync(path.join(dir, 'studies')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
