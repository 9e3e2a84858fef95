/**
 * Which series of a study becomes the volume to analyse. The rules are data (config `selection`); every series
 * that is not selected gets reasons a user can read. Preference among eligible series, in order:
 *   1. thinner slice spacing (spacings within `spacingTieMm` tie),
 *   2. soft-tissue kernel: earlier in `preferredKernels` wins; a kernel matching none ranks after all that match,
 *   3. more slices,
 *   4. the lower SeriesInstanceUID (only so that the choice never depends on file or PACS order).
 */
import type { SelectionRules } from '../config/schema';
import { SUPPORTED_TRANSFER_SYNTAXES } from './decode';
import { planGeometry, type GeometryOptions, type GeometryPlan } from './geometry';
import { describeSeries, type SeriesInfo } from './series';
import { describeTransferSyntax } from './transfer-syntax';
import { VolumeError } from './volume-error';

export interface SeriesSelection {
  selected?: SeriesInfo;
  /** Why the selected series was chosen, or why none was. */
  why: string;
  /** Eligible series, best first (selected = ranked[0]). */
  ranked: SeriesInfo[];
  /** Every series not selected, with its reasons (eligible runners-up say why they ranked lower). */
  rejected: { series: SeriesInfo; reasons: string[] }[];
}

/** No series of the input can be analysed; `selection` carries every series' reasons. */
export class SelectionError extends Error {
  constructor(readonly selection: SeriesSelection) {
    super(selection.why);
    this.name = 'SelectionError';
  }
}

interface Candidate {
  series: SeriesInfo;
  plan: GeometryPlan;
  kernel?: string;
  kernelRank: number;
}

const LOCALIZER_DESCRIPTION = /\b(localizer|localiser|scout|topogram|surview|scanogram|pilot)\b/i;
const fmt = (x: number, d = 2) => Number(x.toFixed(d)).toString();

export function kernelRank(kernel: string | undefined, preferred: string[]): number {
  if (!kernel) return preferred.length;
  const k = kernel.trim().toUpperCase();
  const i = preferred.findIndex((p) => {
    const q = p.trim().toUpperCase();
    return q.endsWith('*') ? k.startsWith(q.slice(0, -1)) : k === q;
  });
  return i < 0 ? preferred.length : i;
}

/** Reasons a series cannot be used, or its geometry plan when it can. */
export function checkSeries(series: SeriesInfo, rules: SelectionRules, geometry: GeometryOptions = {}): { reasons: string[]; plan?: GeometryPlan } {
  const reasons: string[] = [];
  const modality = rules.modality.toUpperCase();
  if (series.modality !== modality) {
    reasons.push(`modality is ${series.modality || 'missing'}, not ${modality}`);
    return { reasons };
  }
  const accepted = rules.imageTypes.map((t) => t.toUpperCase());
  const types = [...new Set(series.instances.map((i) => i.imageType.join('\\')))];
  for (const t of types) {
    const values = t ? t.split('\\') : [];
    const pair = values.slice(0, 2).join('\\');
    if (!accepted.includes(pair)) reasons.push(`ImageType ${t || '(missing)'} is not ${rules.imageTypes.join(' or ')}`);
    const rejectedValue = rules.rejectImageTypeValues.find((r) => {
      const rv = r.toUpperCase();
      return rv.includes('\\') ? pair === rv || t.startsWith(`${rv}\\`) : values.includes(rv);
    });
    if (rejectedValue) reasons.push(`localizer or derived image (ImageType ${t} contains ${rejectedValue})`);
    const v3 = values[2];
    if (v3 && !rejectedValue && !rules.imageType3.map((x) => x.toUpperCase()).includes(v3)) {
      reasons.push(`ImageType value 3 is ${v3}, not ${rules.imageType3.join(' or ')}`);
    }
  }
  if (series.seriesDescription && LOCALIZER_DESCRIPTION.test(series.seriesDescription)) {
    reasons.push(`series description '${series.seriesDescription}' names a localizer/scout`);
  }
  const syntaxes = [...new Set(series.instances.map((i) => i.transferSyntaxUID).filter((u): u is string => !!u))];
  for (const ts of syntaxes) {
    if (!SUPPORTED_TRANSFER_SYNTAXES.includes(ts)) reasons.push(`pixel data in unsupported transfer syntax ${describeTransferSyntax(ts)}`);
  }
  const spp = series.instances.find((i) => i.samplesPerPixel !== 1);
  if (spp) reasons.push(`not grayscale (SamplesPerPixel ${spp.samplesPerPixel})`);

  let plan: GeometryPlan | undefined;
  try {
    plan = planGeometry(series, geometry);
  } catch (e) {
    if (!(e instanceof VolumeError)) throw e;
    reasons.push(e.message);
  }
  if (plan) {
    const angle = (Math.acos(Math.min(1, Math.abs(plan.normal[2]))) * 180) / Math.PI;
    if (angle > rules.maxObliquityDeg) {
      reasons.push(`not axial: the slice normal is ${fmt(angle, 1)}° from the head-foot axis (at most ${rules.maxObliquityDeg}°)`);
    }
    if (plan.spacing > rules.maxSliceSpacingMm + 1e-6) {
      reasons.push(`slices are ${fmt(plan.spacing)} mm apart (at most ${rules.maxSliceSpacingMm} mm)`);
    }
    if (plan.outputSlices < rules.minSlices) {
      reasons.push(`${plan.outputSlices} slice${plan.outputSlices === 1 ? '' : 's'} (at least ${rules.minSlices} needed)`);
    }
  }
  return reasons.length ? { reasons } : { reasons, plan };
}

export function selectSeries(series: SeriesInfo[], rules: SelectionRules, geometry: GeometryOptions = {}): SeriesSelection {
  const rejected: SeriesSelection['rejected'] = [];
  const candidates: Candidate[] = [];
  for (const s of series) {
    const { reasons, plan } = checkSeries(s, rules, geometry);
    if (plan) {
      const kernel = kernelOf(s);
      candidates.push({ series: s, plan, kernel, kernelRank: kernelRank(kernel, rules.preferredKernels) });
    } else rejected.push({ series: s, reasons });
  }
  candidates.sort((a, b) => compareCandidates(a, b, rules) ?? 0);
  const ranked = candidates.map((c) => c.series);
  if (candidates.length === 0) {
    const why =
      series.length === 0
        ? 'no DICOM series found'
        : `no series qualifies for analysis: ${rejected.map((r) => `${describeSeries(r.series)}: ${r.reasons.join('; ')}`).join(' | ')}`;
    return { why, ranked, rejected };
  }
  const best = candidates[0];
  for (const c of candidates.slice(1)) {
    rejected.push({ series: c.series, reasons: [`eligible, but ranked below the selected series: ${explainOrder(best, c, rules)}`] });
  }
  const why =
    `${describeSeries(best.series)}: ${best.plan.outputSlices} slices ${fmt(best.plan.spacing)} mm apart, kernel ${best.kernel ?? '(none)'}` +
    (candidates.length === 1 ? '; the only series that meets the selection rules' : `; preferred over ${candidates.length - 1} other eligible series (${candidates.slice(1).map((c) => explainOrder(best, c, rules)).join('; ')})`);
  return { selected: best.series, why, ranked, rejected };
}

function kernelOf(s: SeriesInfo): string | undefined {
  return s.instances.find((i) => i.convolutionKernel)?.convolutionKernel;
}

/** Negative when a ranks before b; the preference order of the file comment. */
function compareCandidates(a: Candidate, b: Candidate, rules: SelectionRules): number {
  if (Math.abs(a.plan.spacing - b.plan.spacing) > rules.spacingTieMm) return a.plan.spacing - b.plan.spacing;
  if (a.kernelRank !== b.kernelRank) return a.kernelRank - b.kernelRank;
  if (a.plan.outputSlices !== b.plan.outputSlices) return b.plan.outputSlices - a.plan.outputSlices;
  return a.series.seriesInstanceUID < b.series.seriesInstanceUID ? -1 : a.series.seriesInstanceUID > b.series.seriesInstanceUID ? 1 : 0;
}

/** Why `best` ranks before `other`, naming the first criterion that differs. */
function explainOrder(best: Candidate, other: Candidate, rules: SelectionRules): string {
  const name = `${other.series.seriesDescription ? `'${other.series.seriesDescription}' ` : ''}${other.series.seriesInstanceUID}`;
  if (Math.abs(best.plan.spacing - other.plan.spacing) > rules.spacingTieMm) {
    return `${name} has thicker slice spacing (${fmt(other.plan.spacing)} vs ${fmt(best.plan.spacing)} mm)`;
  }
  if (best.kernelRank !== other.kernelRank) {
    const describe = (c: Candidate) =>
      c.kernelRank < rules.preferredKernels.length ? `soft-tissue kernel ${c.kernel} (preference #${c.kernelRank + 1})` : `kernel ${c.kernel ?? '(none)'} (not a listed soft-tissue kernel)`;
    return `${name} has ${describe(other)}; the selected series has ${describe(best)}`;
  }
  if (best.plan.outputSlices !== other.plan.outputSlices) return `${name} has fewer slices (${other.plan.outputSlices} vs ${best.plan.outputSlices})`;
  return `${name} ties on spacing, kernel and slice count; the lower SeriesInstanceUID wins for determinism`;
}
