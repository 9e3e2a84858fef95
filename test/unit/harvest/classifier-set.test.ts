import type { BoxLPS } from '../../../src/detect/findings';
import { classifierSamples } from '../../../src/harvest/classifier-set';
import { DATASET_FORMAT, type HarvestRecord } from '../../../src/harvest/dataset';
import { classifyCandidates, type Candidate } from '../../../src/harvest/proposals';

const box = (x: number): BoxLPS => [x, 0, 0, x + 10, 10, 10];
const candidate = (id: number, x: number, score: number): Candidate => ({
  id, type: 'lesion', bboxLPS: box(x), keySlice: { sopInstanceUID: '1.2.3', box: [0, 0, 1, 1] }, longAxisMm: 10, shortAxisMm: 8, detectorScore: score, classifierProbability: score, score,
});

/** A record of five candidates: on the label, on a rejected finding, above high, below low, between. */
function record(complete: boolean): HarvestRecord {
  const cands = [candidate(1, 1, 0.5), candidate(2, 101, 0.99), candidate(3, 200, 0.99), candidate(4, 300, 0.1), candidate(5, 400, 0.5)];
  const classified = classifyCandidates(cands, [{ bboxLPS: box(0) }], [{ bboxLPS: box(100) }], { high: 0.9, low: 0.2 }, complete);
  const of = (s: string) => classified.filter((c) => c.status === s);
  return {
    format: DATASET_FORMAT, studyInstanceUID: '1.2', source: 'folder /x', harvestedAt: '2026-12-02T00:00:00Z', runId: 'r',
    modelVersions: { detector: 'd-1', classifier: 'c-1' }, srs: { own: [], readers: [] }, completelyAnnotated: { value: complete, by: complete ? ['list'] : [] },
    existingLabels: [], rejectedFindings: [], annotationsWithoutGeometry: 0,
    matched: of('label'), harvested: of('harvested'), hardNegatives: of('hard-negative'), uncertain: of('uncertain'),
  } as unknown as HarvestRecord;
}

const summary = (r: HarvestRecord, unlabeled: 'left-out' | 'negative' = 'left-out') => {
  const { part, samples } = classifierSamples(r, unlabeled);
  return { part, samples: samples.map((s) => [s.candidate.id, s.label, s.why]) };
};

test('a partly annotated study trains the classifier on its readers\' labels and known negatives; what the harvest asks about is left out', () => {
  expect(summary(record(false))).toEqual({
    part: 'train',
    samples: [[1, 1, 'reader-label'], [2, 0, 'rejected-by-reader'], [4, 0, 'below-low']],
  });
});

test('positive-unlabeled learning: every unmatched candidate of a partly annotated study is a negative, harvested and uncertain ones included', () => {
  expect(summary(record(false), 'negative')).toEqual({
    part: 'train',
    samples: [[1, 1, 'reader-label'], [2, 0, 'rejected-by-reader'], [4, 0, 'below-low'], [3, 0, 'unlabeled'], [5, 0, 'unlabeled']],
  });
  expect(summary(record(true), 'negative')).toEqual(summary(record(true)));
});

test('a completely annotated study is kept apart for calibration, every unmatched candidate a negative', () => {
  expect(summary(record(true))).toEqual({
    part: 'calibration',
    samples: [[1, 1, 'reader-label'], [2, 0, 'complete-study'], [3, 0, 'complete-study'], [4, 0, 'complete-study'], [5, 0, 'complete-study']],
  });
});
