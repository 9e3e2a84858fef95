/**
 * Consistency inside a series, before any geometry is planned: every instance must carry a sane rescale, the
 * series' modality and the series' study. A damaged instance is never read silently: it is EXCLUDED with its reason
 * when it lies at an end of the stack (the volume is then a little shorter, and says so), or the series is REFUSED
 * when leaving it out would open a gap between slices or cost more than `maxExcludedSlicesPerEnd` at one end.
 * Duplicate files of one instance are settled when pixels are read (compareDuplicates).
 *
 * The rules are data (config `selection`, docs/dicom.md "Consistency inside a series").
 */
import * as path from 'path';
import type { SelectionRules } from '../config/schema';
import type { FramePixels } from './decode';
import type { InstanceHeader } from './instance-header';
import type { SeriesInfo } from './series';
import type { Exclusion, Vec3 } from './volume';
import { VolumeError } from './volume-error';

export type ConsistencyRules = Pick<SelectionRules, 'maxExcludedSlicesPerEnd' | 'minRescaleSlope' | 'maxRescaleSlope' | 'maxAbsRescaleIntercept'>;

export interface Screening {
  /** The series without its excluded instances (`excluded` lists them); the input itself when nothing is wrong. */
  series: SeriesInfo;
  /** Why the series cannot be used at all; absent when it can. */
  refusal?: string;
}

/** "instance 1.2.3 (CT0012.dcm)": the file name only, never a local path, because the SR and the journey repeat it. */
export function describeInstance(i: Pick<InstanceHeader, 'sopInstanceUID' | 'source'>): string {
  return `instance ${i.sopInstanceUID}${i.source ? ` (${path.basename(i.source)})` : ''}`;
}

/** The sentence that Volume.tolerated (journey, SR, `lens inspect`, `lens detect`) holds for one exclusion. */
export function exclusionSentence(e: Exclusion): string {
  const what = e.sopInstanceUID ? `instance ${e.sopInstanceUID}${e.file ? ` (${e.file})` : ''}` : `file ${e.file ?? '(unnamed)'}`;
  return `excluded ${what}: ${e.reason}`;
}

const fmt = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : 'not a number');

/** What is wrong with one instance of the series, or undefined. */
export function instanceProblem(inst: InstanceHeader, series: Pick<SeriesInfo, 'modality' | 'studyInstanceUID'>, rules: ConsistencyRules): string | undefined {
  if (inst.modality !== series.modality) {
    return inst.modality ? `Modality ${inst.modality} in a ${series.modality} series` : `no Modality in a ${series.modality} series`;
  }
  if (inst.studyInstanceUID !== series.studyInstanceUID) {
    return `StudyInstanceUID ${inst.studyInstanceUID} is not the series' study ${series.studyInstanceUID}`;
  }
  for (const f of inst.frames) {
    const where = inst.frames.length > 1 ? ` of frame ${f.frameNumber}` : '';
    const slope = f.rescaleSlope;
    if (!Number.isFinite(slope)) return `RescaleSlope${where} is empty or not a number`;
    if (slope < rules.minRescaleSlope || slope > rules.maxRescaleSlope) {
      return `RescaleSlope ${fmt(slope)}${where} is outside ${rules.minRescaleSlope}..${rules.maxRescaleSlope}: its HU would be meaningless`;
    }
    if (!Number.isFinite(f.rescaleIntercept)) return `RescaleIntercept${where} is empty or not a number`;
    if (Math.abs(f.rescaleIntercept) > rules.maxAbsRescaleIntercept) {
      return `RescaleIntercept ${fmt(f.rescaleIntercept)}${where} is beyond ±${rules.maxAbsRescaleIntercept}: its HU would be meaningless`;
    }
  }
  return undefined;
}

/** Screens every instance of the series: the series with damaged instances excluded, or why it is refused. */
export function screenSeries(series: SeriesInfo, rules: ConsistencyRules): Screening {
  const damaged: { inst: InstanceHeader; reason: string }[] = [];
  const kept: InstanceHeader[] = [];
  for (const inst of series.instances) {
    const reason = instanceProblem(inst, series, rules);
    if (reason) damaged.push({ inst, reason });
    else kept.push(inst);
  }
  if (damaged.length === 0) return { series };
  const first = damaged[0];
  const summary = `${describeInstance(first.inst)}: ${first.reason}${damaged.length > 1 ? ` (and ${damaged.length - 1} more damaged instance${damaged.length > 2 ? 's' : ''})` : ''}`;
  if (kept.length === 0) return { series, refusal: `every instance is damaged: ${summary}` };

  const placement = placeAlongNormal(kept, damaged.map((d) => d.inst));
  if (typeof placement === 'string') return { series, refusal: `${summary}; ${placement}` };
  const inside = damaged.filter((_, k) => placement[k] === 'inside');
  if (inside.length) {
    const d = damaged[placement.indexOf('inside')];
    return {
      series,
      refusal: `damaged ${describeInstance(d.inst)}: ${d.reason}; it lies between other slices, and leaving it out would open a gap in the volume` +
        (inside.length > 1 ? ` (${inside.length} such instances)` : ''),
    };
  }
  for (const end of ['below', 'above'] as const) {
    const n = placement.filter((p) => p === end).length;
    if (n > rules.maxExcludedSlicesPerEnd) {
      return { series, refusal: `${n} damaged instances at one end of the stack (at most ${rules.maxExcludedSlicesPerEnd} may be left out at each end): ${summary}` };
    }
  }
  const excluded: Exclusion[] = damaged.map((d) => ({
    sopInstanceUID: d.inst.sopInstanceUID,
    ...(d.inst.source ? { file: path.basename(d.inst.source) } : {}),
    reason: `${d.reason}; it lay at an end of the stack, which is left out (the volume is shorter)`,
  }));
  const duplicates = series.duplicates?.filter((d) => kept.some((k) => k.sopInstanceUID === d.sopInstanceUID));
  return {
    series: {
      ...series,
      instances: kept,
      excluded: [...(series.excluded ?? []), ...excluded],
      ...(duplicates?.length ? { duplicates } : { duplicates: undefined }),
    },
  };
}

/**
 * Where each damaged instance lies relative to the kept ones along the slice normal (of the first kept frame):
 * 'below' or 'above' every kept frame, or 'inside'; a string when it cannot be told.
 */
function placeAlongNormal(kept: InstanceHeader[], damaged: InstanceHeader[]): ('below' | 'above' | 'inside')[] | string {
  const iop = kept.flatMap((k) => k.frames).find((f) => f.imageOrientationPatient)?.imageOrientationPatient;
  if (!iop) return 'the slices have no ImageOrientationPatient, so where the damaged ones lie cannot be told';
  const normal: Vec3 = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
  const zs = (i: InstanceHeader) => i.frames.map((f) => (f.imagePositionPatient ? f.imagePositionPatient[0] * normal[0] + f.imagePositionPatient[1] * normal[1] + f.imagePositionPatient[2] * normal[2] : NaN));
  const keptZ = kept.flatMap(zs).filter(Number.isFinite);
  if (keptZ.length === 0) return 'the slices have no ImagePositionPatient, so where the damaged ones lie cannot be told';
  const lo = Math.min(...keptZ);
  const hi = Math.max(...keptZ);
  const out: ('below' | 'above' | 'inside')[] = [];
  for (const d of damaged) {
    const z = zs(d);
    if (z.some((v) => !Number.isFinite(v))) return `${describeInstance(d)} has no ImagePositionPatient, so whether leaving it out opens a gap cannot be told`;
    out.push(z.every((v) => v < lo) ? 'below' : z.every((v) => v > hi) ? 'above' : 'inside');
  }
  return out;
}

type FrameSource = (sopInstanceUID: string, frameNumber: number, instance?: InstanceHeader) => Promise<FramePixels>;

/**
 * Settles further files of an instance already in the series: identical copies (same frames, same positions and
 * rescale, same pixels) are dropped, one sentence saying so; copies that differ refuse the series (VolumeError),
 * because the SR and SEG reference images by SOPInstanceUID and a reference to one of two different images would be
 * ambiguous to the radiologist, and which file is right cannot be told.
 */
export async function compareDuplicates(series: SeriesInfo, readFrame: FrameSource): Promise<string[]> {
  const dups = series.duplicates ?? [];
  if (dups.length === 0) return [];
  const bySop = new Map(series.instances.map((i) => [i.sopInstanceUID, i]));
  for (const dup of dups) {
    const kept = bySop.get(dup.sopInstanceUID);
    if (!kept) continue; // its instance was excluded: so are its copies
    const conflict = (what: string) =>
      new VolumeError(
        `two files hold ${describeInstance(kept)} with different ${what}${dup.source ? ` (the other is ${path.basename(dup.source)})` : ''}: ` +
          'which is right cannot be told, and a finding referencing it would be ambiguous; the series is refused',
      );
    if (!sameHeaderGeometry(kept, dup)) throw conflict('positions or rescale');
    for (const f of kept.frames) {
      const a = await readFrame(kept.sopInstanceUID, f.frameNumber, kept);
      const b = await readFrame(dup.sopInstanceUID, f.frameNumber, dup);
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw conflict('pixels');
    }
  }
  const kept = dups.filter((d) => bySop.has(d.sopInstanceUID));
  if (kept.length === 0) return [];
  const names = kept.slice(0, 3).map((d) => (d.source ? path.basename(d.source) : d.sopInstanceUID));
  return [
    `${kept.length} duplicate file${kept.length === 1 ? '' : 's'} of instances already read (identical pixels) dropped: ${names.join(', ')}${kept.length > 3 ? ', ...' : ''}`,
  ];
}

function sameHeaderGeometry(a: InstanceHeader, b: InstanceHeader): boolean {
  if (a.frames.length !== b.frames.length || a.rows !== b.rows || a.columns !== b.columns) return false;
  return a.frames.every((fa, k) => {
    const fb = b.frames[k];
    const same = (x?: number[], y?: number[]) => (!x && !y) || (!!x && !!y && x.length === y.length && x.every((v, i) => Math.abs(v - y[i]) < 1e-4));
    return same(fa.imagePositionPatient, fb.imagePositionPatient) && fa.rescaleSlope === fb.rescaleSlope && fa.rescaleIntercept === fb.rescaleIntercept;
  });
}
