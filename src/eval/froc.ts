/**
 * The evaluation protocol of docs/contracts.md#evaluation-protocol (LENS, DeepLesion 3D): a predicted 3D box hits
 * a truth lesion when IoBB = intersection volume / predicted box volume >= 0.3; a lesion hit by several predictions
 * counts once; a prediction on an already found lesion is neither a hit nor a false positive; a prediction that hits
 * no lesion is a false positive. The score threshold is swept over every prediction score (all predictions of equal
 * score enter together); sensitivity at F false positives per volume is the highest sensitivity of an operating
 * point with at most F FPs per volume (no interpolation). The mean over 0.125..8 FPs/volume is the average
 * sensitivity.
 */
import { iobb } from '../detect/box3d';
import type { BoxLPS, Findings, TruthStudy } from '../detect/findings';

export { iobb };

export const FP_RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8] as const;

export interface EvalOptions {
  iobbThreshold: number;
  fpRates: readonly number[];
  /** FP rate at which per-type sensitivity is reported. */
  perTypeAtFp: number;
}

export const DEFAULT_EVAL: EvalOptions = { iobbThreshold: 0.3, fpRates: FP_RATES, perTypeAtFp: 4 };

export interface OperatingPoint {
  /** Predictions with score >= threshold are kept. */
  threshold: number;
  sensitivity: number;
  fpPerVolume: number;
  hits: number;
  falsePositives: number;
}

export interface EvalResult {
  volumes: number;
  lesions: number;
  predictions: number;
  sensitivityAtFp: { fpPerVolume: number; sensitivity: number; threshold: number | null }[];
  averageSensitivity: number;
  /** Per truth lesion type, at the operating point of perTypeAtFp FPs/volume. */
  perType: { atFpPerVolume: number; types: Record<string, { lesions: number; found: number; sensitivity: number }> };
  /** Every operating point of the sweep (descending threshold). */
  curve: OperatingPoint[];
  /** Study UIDs of findings without a truth study (not evaluated). */
  unmatchedFindings: string[];
}


export function evaluate(truth: readonly TruthStudy[], findings: readonly Findings[], options: Partial<EvalOptions> = {}): EvalResult {
  const opts = { ...DEFAULT_EVAL, ...options };
  // Volumes are the truth studies (one study = one volume); findings are matched by studyInstanceUID.
  const volumes = new Map<string, { type: string; box: BoxLPS; foundAt: number | null }[]>();
  for (const t of truth) {
    const list = volumes.get(t.studyInstanceUID) ?? [];
    for (const l of t.lesions) list.push({ type: String(l.type), box: l.bboxLPS, foundAt: null });
    volumes.set(t.studyInstanceUID, list);
  }
  const unmatched = new Set<string>();
  const preds: { study: string; score: number; box: BoxLPS }[] = [];
  for (const f of findings) {
    if (!volumes.has(f.studyInstanceUID)) {
      unmatched.add(f.studyInstanceUID);
      continue;
    }
    for (const l of f.lesions) preds.push({ study: f.studyInstanceUID, score: l.score, box: l.bboxLPS });
  }
  preds.sort((a, b) => b.score - a.score);
  const nVolumes = volumes.size;
  const nLesions = [...volumes.values()].reduce((s, l) => s + l.length, 0);

  const curve: OperatingPoint[] = [];
  let hits = 0;
  let fps = 0;
  for (let i = 0; i < preds.length; ) {
    const score = preds[i].score;
    for (; i < preds.length && preds[i].score === score; i++) {
      const p = preds[i];
      let hitAny = false;
      for (const lesion of volumes.get(p.study)!) {
        if (iobb(p.box, lesion.box) < opts.iobbThreshold) continue;
        hitAny = true;
        if (lesion.foundAt === null) {
          lesion.foundAt = score;
          hits++;
        }
      }
      if (!hitAny) fps++;
    }
    curve.push({ threshold: score, hits, falsePositives: fps, sensitivity: ratio(hits, nLesions), fpPerVolume: ratio(fps, nVolumes) });
  }

  const pointAt = (rate: number): OperatingPoint | null => {
    let best: OperatingPoint | null = null;
    for (const p of curve) if (p.fpPerVolume <= rate && (!best || p.sensitivity >= best.sensitivity)) best = p;
    return best;
  };
  const sensitivityAtFp = opts.fpRates.map((rate) => {
    const p = pointAt(rate);
    return { fpPerVolume: rate, sensitivity: p ? p.sensitivity : 0, threshold: p ? p.threshold : null };
  });
  const at = pointAt(opts.perTypeAtFp);
  const types: EvalResult['perType']['types'] = {};
  for (const list of volumes.values()) {
    for (const l of list) {
      const t = (types[l.type] ??= { lesions: 0, found: 0, sensitivity: 0 });
      t.lesions++;
      if (at && l.foundAt !== null && l.foundAt >= at.threshold) t.found++;
    }
  }
  for (const t of Object.values(types)) t.sensitivity = ratio(t.found, t.lesions);
  return {
    volumes: nVolumes,
    lesions: nLesions,
    predictions: preds.length,
    sensitivityAtFp,
    averageSensitivity: sensitivityAtFp.reduce((s, x) => s + x.sensitivity, 0) / Math.max(1, sensitivityAtFp.length),
    perType: { atFpPerVolume: opts.perTypeAtFp, types },
    curve,
    unmatchedFindings: [...unmatched],
  };
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}
