/**
 * How well reported long axes agree with the annotated extent of the lesions they find (issue 10: "the reported long
 * axis within 25 % of the annotated extent").
 *
 * The annotated extent of a lesion is the larger in-plane side of its 3D truth box (x or y in LPS): for a box
 * annotation (lung-dx-a0001's per-slice boxes, the generator's boxes) this is what the annotation says about the
 * longest in-plane diameter; the z extent is not a RECIST axis. A lesion is measured by the best-ranked finding that
 * hits it (IoBB, as the FROC); lesions no finding hits are not measured (sensitivity is the FROC's business).
 */
import type { Findings, Lesion, TruthLesion, TruthStudy } from '../detect/findings';
import { DEFAULT_EVAL, iobb } from './froc';

export const LONG_AXIS_TOLERANCE = 0.25;

export interface Measured {
  type: string;
  annotatedMm: number;
  reportedMm: number;
  /** (reported - annotated) / annotated */
  relativeError: number;
}

export interface MeasurementSummary {
  lesions: number;
  measured: number;
  /** Measured lesions whose |relative error| <= the tolerance. */
  withinTolerance: number;
  tolerance: number;
  /** Median of |relative error| and of the signed relative error (the bias: negative = axes too short). */
  medianAbsoluteError: number;
  medianError: number;
  perType: Record<string, { measured: number; withinTolerance: number; medianError: number }>;
}

export function annotatedExtentMm(l: Pick<TruthLesion, 'bboxLPS'>): number {
  const b = l.bboxLPS;
  return Math.max(b[3] - b[0], b[4] - b[1]);
}

/** The best-ranked finding (findings in score order) hitting the lesion, with its rank (1-based); null when none does. */
export function bestHit(lesions: readonly Lesion[], truth: Pick<TruthLesion, 'bboxLPS'>): { lesion: Lesion; rank: number } | null {
  const i = lesions.findIndex((p) => iobb(p.bboxLPS, truth.bboxLPS) >= DEFAULT_EVAL.iobbThreshold);
  return i < 0 ? null : { lesion: lesions[i], rank: i + 1 };
}

export function measureLesions(truths: readonly TruthStudy[], findings: readonly Findings[]): { lesions: number; measured: Measured[] } {
  const byStudy = new Map(findings.map((f) => [f.studyInstanceUID, [...f.lesions].sort((a, b) => b.score - a.score)]));
  const measured: Measured[] = [];
  let lesions = 0;
  for (const t of truths) {
    const found = byStudy.get(t.studyInstanceUID) ?? [];
    for (const l of t.lesions) {
      lesions++;
      const hit = bestHit(found, l);
      if (!hit) continue;
      const annotatedMm = annotatedExtentMm(l);
      measured.push({ type: String(l.type), annotatedMm, reportedMm: hit.lesion.longAxisMm, relativeError: (hit.lesion.longAxisMm - annotatedMm) / annotatedMm });
    }
  }
  return { lesions, measured };
}

export function summariseMeasurement(lesions: number, measured: readonly Measured[], tolerance = LONG_AXIS_TOLERANCE): MeasurementSummary {
  const within = (m: readonly Measured[]) => m.filter((x) => Math.abs(x.relativeError) <= tolerance + 1e-9).length;
  const types = [...new Set(measured.map((m) => m.type))].sort();
  return {
    lesions,
    measured: measured.length,
    withinTolerance: within(measured),
    tolerance,
    medianAbsoluteError: median(measured.map((m) => Math.abs(m.relativeError))),
    medianError: median(measured.map((m) => m.relativeError)),
    perType: Object.fromEntries(
      types.map((type) => {
        const m = measured.filter((x) => x.type === type);
        return [type, { measured: m.length, withinTolerance: within(m), medianError: median(m.map((x) => x.relativeError)) }];
      }),
    ),
  };
}

export function formatMeasurement(s: MeasurementSummary): string {
  const pct = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`;
  const lines = [
    `long axis vs annotated extent: ${s.measured} of ${s.lesions} lesions found and measured; ${s.withinTolerance} within ${100 * s.tolerance} % ` +
      `(${s.measured ? ((100 * s.withinTolerance) / s.measured).toFixed(1) : '-'} %); median |error| ${(100 * s.medianAbsoluteError).toFixed(1)} %, median error ${pct(s.medianError)}`,
  ];
  for (const [type, t] of Object.entries(s.perType)) lines.push(`  ${type.padEnd(14)} ${t.withinTolerance}/${t.measured} within, median error ${pct(t.medianError)}`);
  return lines.join('\n');
}

function median(v: readonly number[]): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
