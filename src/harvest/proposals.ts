/**
 * Proposal generation and classification (Lesion Harvester, Cai et al. arXiv 2001.07776, docs/harvest.md):
 *   1. the detector at a high-sensitivity operating point (its lesions down to the classifier's candidate
 *      threshold, no second stage) proposes 3D candidates;
 *   2. the proposal classifier (models/lens-fpr) gives each a lesion probability, combined by its manifest's rule;
 *   3. candidates matching a label already in the archive are not new; those matching a finding a reader rejected
 *      are hard negatives; of the others, those reaching the high threshold are harvested lesions, those below the
 *      low threshold hard negatives (in a completely annotated study: every unmatched candidate), the rest
 *      uncertain (kept in the record, so that other thresholds can be applied later);
 *   4. the thresholds are chosen on the completely annotated studies (chooseThresholds), and recorded.
 */
import type { LensConfig } from '../config/schema';
import type { BoxLPS, Lesion } from '../detect/findings';
import { boxCentre, iobb } from '../detect/box3d';
import type { Detector } from '../detect/detector';
import type { ProposalClassifier } from '../detect/proposal-classifier';
import type { Volume } from '../dicom/volume';

export interface Candidate {
  /** 1-based, in descending detector score order. */
  id: number;
  type: Lesion['type'];
  bboxLPS: BoxLPS;
  keySlice: Lesion['keySlice'];
  longAxisMm: number;
  shortAxisMm: number;
  detectorScore: number;
  classifierProbability: number;
  /** The classifier manifest's combination of both: what the thresholds apply to. */
  score: number;
}

export interface ProposalOptions {
  /** Detector lesions down to this score are proposed (default: the classifier's candidateScoreThreshold). */
  candidateScoreThreshold?: number;
  /** At most this many, highest detector score first (default: the classifier's maxCandidates). */
  maxCandidates?: number;
}

/** The detector's candidates at the high-sensitivity operating point, scored by the proposal classifier. */
export async function proposeCandidates(
  detector: Pick<Detector, 'detect'>,
  classifier: Pick<ProposalClassifier, 'probabilities' | 'finalScore' | 'manifest'>,
  volume: Volume,
  opts: ProposalOptions = {},
): Promise<Candidate[]> {
  const scoring = classifier.manifest.scoring;
  const min = opts.candidateScoreThreshold ?? scoring.candidateScoreThreshold;
  const { findings } = await detector.detect(volume, { scoreThreshold: min, secondStage: false });
  const top = [...findings.lesions].sort((a, b) => b.score - a.score).slice(0, opts.maxCandidates ?? scoring.maxCandidates);
  const p = await classifier.probabilities(volume, top);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return top.map((l, i) => ({
    id: i + 1,
    type: l.type,
    bboxLPS: l.bboxLPS,
    keySlice: l.keySlice,
    longAxisMm: l.longAxisMm,
    shortAxisMm: l.shortAxisMm,
    detectorScore: r4(l.score),
    classifierProbability: r4(p[i]),
    score: r4(classifier.finalScore(l.score, p[i])),
  }));
}

/**
 * A candidate is the lesion of a label (or of a rejected finding) when it covers the label's centre, or when at
 * least 30 % of its box lies in the label's box (the IoBB of the evaluation protocol, docs/contracts.md).
 */
export function matches(candidate: BoxLPS, label: BoxLPS): boolean {
  const c = boxCentre(label);
  const inside = [0, 1, 2].every((a) => candidate[a] <= c[a] && c[a] <= candidate[a + 3]);
  return inside || iobb(candidate, label) >= 0.3;
}

export interface Thresholds {
  /** Unmatched candidates scoring at least this are harvested lesions; null: none is (no threshold reaches the precision). */
  high: number | null;
  /** Unmatched candidates scoring below this are hard negatives. */
  low: number;
  /** How they were chosen: on the completely annotated studies, or the configured defaults. */
  method: 'fully-labeled' | 'defaults';
  /** What the choice saw and reached (fully-labeled only). */
  chosenOn?: { studies: number; candidates: number; lesions: number; precisionAtHigh: number | null; lesionsAtHigh: number; lesionFractionBelowLow: number };
}

export interface ThresholdPolicy {
  /** Precision the harvested lesions must reach on the completely annotated studies. */
  minPrecision: number;
  /** At most this fraction of the candidates below the low threshold may be lesions. */
  maxLesionFractionBelowLow: number;
  /** Fewer completely annotated candidates than this: the defaults are used. */
  minCandidates: number;
  /** high null: nothing is harvested without completely annotated studies. */
  defaults: { high: number | null; low: number };
}

/**
 * The policy of the `harvest` configuration section; the default high threshold is the classifier's operating point
 * unless configured. A classifier without one (finalScoreThreshold 0, as an archive's classifier is exported) gives
 * none: a high threshold of 0 would harvest every candidate.
 */
export function thresholdPolicy(h: LensConfig['harvest'], classifier: Pick<ProposalClassifier, 'manifest'>): ThresholdPolicy {
  const operatingPoint = classifier.manifest.scoring.finalScoreThreshold;
  return {
    minPrecision: h.minPrecision,
    maxLesionFractionBelowLow: h.maxLesionFractionBelowLow,
    minCandidates: h.minCandidates,
    defaults: { high: h.defaultHighThreshold ?? (operatingPoint > 0 ? operatingPoint : null), low: h.defaultLowThreshold },
  };
}

/** A scored candidate of a completely annotated study: whether it is one of the study's labeled lesions. */
export interface LabeledSample {
  score: number;
  lesion: boolean;
}

/**
 * The thresholds chosen on the completely annotated studies: high = the lowest score at which the candidates
 * scoring at least it reach minPrecision (equal scores enter together); low = the highest score below which at most
 * maxLesionFractionBelowLow of the candidates are lesions, and never above high.
 */
export function chooseThresholds(samples: LabeledSample[], studies: number, policy: ThresholdPolicy): Thresholds {
  if (samples.length < policy.minCandidates) return { ...policy.defaults, method: 'defaults' };
  const desc = [...samples].sort((a, b) => b.score - a.score);
  const lesions = samples.filter((s) => s.lesion).length;
  let high: number | null = null;
  let precisionAtHigh: number | null = null;
  let lesionsAtHigh = 0;
  let tp = 0;
  for (let i = 0; i < desc.length; ) {
    const s = desc[i].score;
    for (; i < desc.length && desc[i].score === s; i++) if (desc[i].lesion) tp++;
    const precision = tp / i;
    if (precision >= policy.minPrecision) {
      high = s;
      precisionAtHigh = precision;
      lesionsAtHigh = tp;
    }
  }
  const asc = [...samples].sort((a, b) => a.score - b.score);
  let low = asc[0].score;
  let below = 0;
  let lesionsBelow = 0;
  let lesionFractionBelowLow = 0;
  for (let i = 0; i < asc.length; ) {
    const s = asc[i].score;
    // Candidates strictly below s are the hard negatives of low = s.
    if (below > 0 && lesionsBelow / below > policy.maxLesionFractionBelowLow) break;
    if (high !== null && s > high) break;
    low = s;
    lesionFractionBelowLow = below ? lesionsBelow / below : 0;
    for (; i < asc.length && asc[i].score === s; i++, below++) if (asc[i].lesion) lesionsBelow++;
  }
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    high,
    low,
    method: 'fully-labeled',
    chosenOn: { studies, candidates: samples.length, lesions, precisionAtHigh: precisionAtHigh === null ? null : r4(precisionAtHigh), lesionsAtHigh, lesionFractionBelowLow: r4(lesionFractionBelowLow) },
  };
}

/**
 * What a PACS administrator must hear when the thresholds could not be chosen on completely annotated studies: the
 * defaults are the classifier's operating point for reporting findings, not a precision chosen for training data
 * (on the real CT of ../shared/data/ct they harvested 4 false lesions of 5, docs/harvest.md).
 */
export function thresholdsWarning(t: Thresholds, policy: Pick<ThresholdPolicy, 'minCandidates'>): string | undefined {
  if (t.method !== 'defaults') return undefined;
  const high = t.high === null ? 'none: nothing is harvested, the classifier has no operating point and harvest.defaultHighThreshold is unset' : t.high;
  return `the thresholds are the defaults (high ${high}, low ${t.low}): fewer than ${policy.minCandidates} candidates of completely annotated studies to choose them on; mark some studies as completely annotated (docs/harvest.md), and have a radiologist check the harvested lesions before training on them`;
}

export type CandidateStatus = 'label' | 'harvested' | 'hard-negative' | 'uncertain';

export interface ClassifiedCandidate extends Candidate {
  status: CandidateStatus;
  /** Index into the study's labels (status 'label'). */
  label?: number;
  /** Why a hard negative: below the low threshold, unmatched in a completely annotated study, or rejected by a reader. */
  why?: 'below-low' | 'complete-study' | 'rejected-by-reader';
}

/** Each candidate's status against the study's labels, the findings readers rejected and the thresholds. */
export function classifyCandidates(
  candidates: Candidate[],
  labels: { bboxLPS: BoxLPS }[],
  rejected: { bboxLPS: BoxLPS }[],
  thresholds: Pick<Thresholds, 'high' | 'low'>,
  completelyAnnotated: boolean,
): ClassifiedCandidate[] {
  return candidates.map((c) => {
    const label = labels.findIndex((l) => matches(c.bboxLPS, l.bboxLPS));
    if (label >= 0) return { ...c, status: 'label', label };
    if (rejected.some((r) => matches(c.bboxLPS, r.bboxLPS))) return { ...c, status: 'hard-negative', why: 'rejected-by-reader' };
    if (completelyAnnotated) return { ...c, status: 'hard-negative', why: 'complete-study' };
    if (thresholds.high !== null && c.score >= thresholds.high) return { ...c, status: 'harvested' };
    if (c.score < thresholds.low) return { ...c, status: 'hard-negative', why: 'below-low' };
    return { ...c, status: 'uncertain' };
  });
}
