/**
 * Which series of a study becomes the volume to analyse. The rules are data (config `selection`); every series
 * that is not selected gets reasons a user can read, and what was tolerated about the selected one (no ImageType,
 * a derived CT, thick slices, per-instance frames of reference, damaged instances excluded at an end of the stack:
 * series-consistency.ts) is said in `tolerated`; `selected` is the series as it will be analysed, without its
 * excluded instances (listed in its `excluded`). Preference among eligible
 * series, in order:
 *   1. ImageType: earlier in `imageTypes` wins (ORIGINAL before DERIVED); no ImageType ranks after every listed type,
 *   2. thinner slice spacing (spacings within `spacingTieMm` tie),
 *   3. soft-tissue kernel: earlier in `preferredKernels` wins; a kernel matching none ranks after all that match,
 *   4. more slices,
 *   5. the lower SeriesInstanceUID (only so that the choice never depends on file or PACS order).
 */
import type { SelectionRules } from '../config/schema';
import { SUPPORTED_TRANSFER_SYNTAXES } from './decode';
import { planGeometry, type GeometryOptions, type GeometryPlan } from './geometry';
import { describeSeries, type SeriesInfo } from './series';
import { exclusionSentence, screenSeries } from './series-consistency';
import { describeTransferSyntax } from './transfer-syntax';
import { VolumeError } from './volume-error';
import { LensError } from '../errors';

export interface SeriesSelection {
  selected?: SeriesInfo;
  /** Why the selected series was chosen, or why none was. */
  why: string;
  /** Eligible series, best first (selected = ranked[0]). */
  ranked: SeriesInfo[];
  /** Every series not selected, with its reasons (eligible runners-up say why they ranked lower). */
  rejected: { series: SeriesInfo; reasons: string[] }[];
  /**
   * What was tolerated about the selected series, one sentence each (empty when none is selected). Always set by
   * selectSeries; optional only so that hand-made selections (tests, stubs) need not say it.
   */
  tolerated?: string[];
}

/** The verdict on one series: reasons it cannot be used, or its plan with what was tolerated to use it. */
export interface SeriesCheck {
  reasons: string[];
  plan?: GeometryPlan;
  tolerated: string[];
  /** Index of the series' ImageType in `imageTypes` (the worst among its instances); imageTypes.length: none. */
  imageTypeRank: number;
  /** The series as it would be analysed: damaged instances excluded (series-consistency.ts); set with `plan`. */
  series?: SeriesInfo;
}

/** No series of the input can be analysed; `selection` carries every series' reasons. */
export class SelectionError extends LensError {
  constructor(readonly selection: SeriesSelection) {
    super(selection.why, 'no-eligible-series');
  }
}

interface Candidate {
  series: SeriesInfo;
  plan: GeometryPlan;
  imageTypeRank: number;
  tolerated: string[];
  kernel?: string;
  kernelRank: number;
}

const LOCALIZER_DESCRIPTION = /\b(localizer|localiser|scout|topogram|surview|scanogram|pilot)\b/i;
const fmt = (x: number, d = 2) => Number(x.toFixed(d)).toString();
/** Control characters (a stray NUL pad) shown escaped, so that a message never looks garbled. */
const shown = (t: string) => t.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function kernelRank(kernel: string | undefined, preferred: string[]): number {
  if (!kernel) return preferred.length;
  const k = kernel.trim().toUpperCase();
  const i = preferred.findIndex((p) => {
    const q = p.trim().toUpperCase();
    return q.endsWith('*') ? k.startsWith(q.slice(0, -1)) : k === q;
  });
  return i < 0 ? preferred.length : i;
}

/** ImageType of every instance against the rules: reasons to refuse, or the rank and what was tolerated. */
function checkImageType(series: SeriesInfo, rules: SelectionRules): Pick<SeriesCheck, 'reasons' | 'tolerated' | 'imageTypeRank'> {
  const accepted = rules.imageTypes.map((t) => t.toUpperCase());
  const rejectValues = rules.rejectImageTypeValues.map((r) => r.toUpperCase());
  const values3 = rules.imageType3.map((x) => x.toUpperCase());
  const listed = rules.imageTypes.join(' or ');
  const counts = new Map<string, number>();
  for (const i of series.instances) {
    const t = i.imageType.join('\\');
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const out = { reasons: [] as string[], tolerated: [] as string[], imageTypeRank: 0 };
  for (const [t, count] of counts) {
    const where = count === series.instances.length ? '' : ` on ${count} of ${series.instances.length} instances`;
    const values = t.split('\\');
    if (values.every((v) => !v)) {
      if (!rules.acceptMissingImageType) {
        out.reasons.push(`no ImageType${where}: whether the images are original axial slices cannot be told`);
      } else {
        out.imageTypeRank = Math.max(out.imageTypeRank, accepted.length);
        out.tolerated.push(`no ImageType${where}: accepted, ranked after series that declare ${listed}`);
      }
      continue;
    }
    const pair = values.slice(0, 2).join('\\');
    const rejectedValue = rejectValues.find((rv) => (rv.includes('\\') ? pair === rv || t.startsWith(`${rv}\\`) : values.includes(rv)));
    if (rejectedValue) {
      out.reasons.push(`ImageType ${shown(t)} marks a localizer, projection or reformat (${rejectedValue}), not axial slices`);
      continue;
    }
    const rank = accepted.indexOf(pair);
    if (rank < 0) {
      out.reasons.push(`ImageType ${shown(t)} is not ${listed}`);
      continue;
    }
    const v3 = values[2];
    if (v3 && !values3.includes(v3)) {
      out.reasons.push(`ImageType value 3 is ${shown(v3)}, not ${rules.imageType3.join(' or ')}`);
      continue;
    }
    out.imageTypeRank = Math.max(out.imageTypeRank, rank);
    if (rank > 0) {
      const derived = values[0] === 'DERIVED' ? 'derived images (such as the low-dose CT of a PET-CT), ' : '';
      out.tolerated.push(`ImageType ${shown(t)}${where}: ${derived}accepted, ranked below ${rules.imageTypes[0]} series`);
    }
  }
  return out;
}

/** "slice thickness 8 mm (thick slices: ...)" when the slices are thicker or further apart than `thickSliceMm`. */
function thickSliceNote(plan: GeometryPlan, rules: SelectionRules): string | undefined {
  const thicknesses = plan.slices.map((s) => s.instance.sliceThickness).filter((t): t is number => t !== undefined && t > 0);
  const thickness = thicknesses.length ? [...thicknesses].sort((a, b) => a - b)[thicknesses.length >> 1] : undefined;
  if (Math.max(thickness ?? 0, plan.spacing) <= rules.thickSliceMm + 1e-6) return undefined;
  const apart = thickness === undefined || Math.abs(thickness - plan.spacing) > rules.spacingTieMm ? `${fmt(plan.spacing)} mm apart` : '';
  const what = thickness === undefined ? `slices ${apart}` : `slice thickness ${fmt(thickness)} mm${apart ? `, ${apart}` : ''}`;
  return `${what} (thick slices: small lesions may be missed)`;
}

/** Reasons a series cannot be used, or its geometry plan (and what was tolerated) when it can. */
export function checkSeries(input: SeriesInfo, rules: SelectionRules, geometry: GeometryOptions = {}): SeriesCheck {
  const modality = rules.modality.toUpperCase();
  if (input.modality !== modality) {
    return { reasons: [`modality is ${input.modality || 'missing'}, not ${modality}`], tolerated: [], imageTypeRank: 0 };
  }
  // Damaged instances first: every later rule (ImageType, geometry) judges the instances that would be analysed.
  const screened = screenSeries(input, rules);
  if (screened.refusal) return { reasons: [screened.refusal], tolerated: [], imageTypeRank: 0 };
  const series = screened.series;
  const { reasons, tolerated, imageTypeRank } = checkImageType(series, rules);
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
      reasons.push(`slices are ${fmt(plan.spacing)} mm apart (at most ${rules.maxSliceSpacingMm} mm: lesions could lie between slices unseen)`);
    }
    if (plan.outputSlices < rules.minSlices) {
      reasons.push(`${plan.outputSlices} slice${plan.outputSlices === 1 ? '' : 's'} (at least ${rules.minSlices} needed)`);
    }
  }
  if (reasons.length || !plan) return { reasons, tolerated: [], imageTypeRank };
  const thick = thickSliceNote(plan, rules);
  const excluded = (series.excluded ?? []).map(exclusionSentence);
  return { reasons, plan, series, tolerated: [...excluded, ...tolerated, ...plan.tolerated, ...(thick ? [thick] : [])], imageTypeRank };
}

export function selectSeries(series: SeriesInfo[], rules: SelectionRules, geometry: GeometryOptions = {}): SeriesSelection {
  const rejected: SeriesSelection['rejected'] = [];
  const candidates: Candidate[] = [];
  for (const s of series) {
    const { reasons, plan, tolerated, imageTypeRank, series: screened } = checkSeries(s, rules, geometry);
    if (plan) {
      const kernel = kernelOf(s);
      candidates.push({ series: screened ?? s, plan, imageTypeRank, tolerated, kernel, kernelRank: kernelRank(kernel, rules.preferredKernels) });
    } else rejected.push({ series: s, reasons });
  }
  candidates.sort((a, b) => compareCandidates(a, b, rules) ?? 0);
  const ranked = candidates.map((c) => c.series);
  if (candidates.length === 0) {
    const why =
      series.length === 0
        ? 'no DICOM series found'
        : `no series qualifies for analysis: ${rejected.map((r) => `${describeSeries(r.series)}: ${r.reasons.join('; ')}`).join(' | ')}`;
    return { why, ranked, rejected, tolerated: [] };
  }
  const best = candidates[0];
  for (const c of candidates.slice(1)) {
    rejected.push({ series: c.series, reasons: [`eligible, but ranked below the selected series: ${explainOrder(best, c, rules)}`] });
  }
  const why =
    `${describeSeries(best.series)}: ${best.plan.outputSlices} slices ${fmt(best.plan.spacing)} mm apart, kernel ${best.kernel ?? '(none)'}` +
    (candidates.length === 1 ? '; the only series that meets the selection rules' : `; preferred over ${candidates.length - 1} other eligible series (${candidates.slice(1).map((c) => explainOrder(best, c, rules)).join('; ')})`);
  return { selected: best.series, why, ranked, rejected, tolerated: best.tolerated };
}

function kernelOf(s: SeriesInfo): string | undefined {
  return s.instances.find((i) => i.convolutionKernel)?.convolutionKernel;
}

/** Negative when a ranks before b; the preference order of the file comment. */
function compareCandidates(a: Candidate, b: Candidate, rules: SelectionRules): number {
  if (a.imageTypeRank !== b.imageTypeRank) return a.imageTypeRank - b.imageTypeRank;
  if (Math.abs(a.plan.spacing - b.plan.spacing) > rules.spacingTieMm) return a.plan.spacing - b.plan.spacing;
  if (a.kernelRank !== b.kernelRank) return a.kernelRank - b.kernelRank;
  if (a.plan.outputSlices !== b.plan.outputSlices) return b.plan.outputSlices - a.plan.outputSlices;
  return a.series.seriesInstanceUID < b.series.seriesInstanceUID ? -1 : a.series.seriesInstanceUID > b.series.seriesInstanceUID ? 1 : 0;
}

/** Why `best` ranks before `other`, naming the first criterion that differs. */
function explainOrder(best: Candidate, other: Candidate, rules: SelectionRules): string {
  const name = `${other.series.seriesDescription ? `'${other.series.seriesDescription}' ` : ''}${other.series.seriesInstanceUID}`;
  if (best.imageTypeRank !== other.imageTypeRank) {
    const typeOf = (c: Candidate) => (c.imageTypeRank < rules.imageTypes.length ? `ImageType ${rules.imageTypes[c.imageTypeRank]}` : 'no ImageType');
    return `${name} has ${typeOf(other)}; the selected series has ${typeOf(best)}, preferred`;
  }
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
