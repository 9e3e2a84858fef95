/**
 * Longitudinal follow-up of a phantom patient (issue 10, intra-patient matching): the same anatomy scanned again
 * months later. The scanner's frame (grid, slice positions, origin) is the baseline's; the patient lies rigidly
 * shifted in it, so that only image content can pair the two studies. Every baseline lesion is still there, grown
 * or shrunk and moved a little inside its organ; sometimes one lesion is new. Truth pairs lesions by lesionId.
 */
import { S_BOTTOM, S_TOP } from './anatomy';
import { datasetLabels, DEEPLESION_LABEL_RATE, enoughInside, lesionLayers, placeLesions, tooClose, type PlacedLesion } from './lesions';
import type { SynthOptions } from './options';
import { hash32, Rng } from './rng';
import { Blob } from './shapes';
import { baselineAcquisition, planStudy, renderStudy, type StudyPlan, type SynthStudy } from './study';

/** Folder of a follow-up: the baseline's folder name plus this. */
export const FOLLOW_UP_SUFFIX = '-fu';
/** Range of the factor on each lesion's diameter. */
export const GROWTH_RANGE: readonly [number, number] = [0.7, 1.5];
/** Largest move of a lesion's centre relative to the anatomy (mm). */
export const MAX_LESION_MOVE_MM = 5;
/** Largest rigid shift of the patient in the grid (mm): in plane, and along z. */
export const MAX_SHIFT_MM: readonly [number, number, number] = [6, 6, 15];
const NEW_LESION_CHANCE = 0.35;
const DAYS_LATER: readonly [number, number] = [90, 365];
const FOLLOW_UP_TAG = 0xf011;
const GROWTH_TRIES = 20;
/** A lesion shrinks only while its smallest diameter stays this many times the generator's smallest. */
const SHRINK_FLOOR = 1.5;

export interface FollowUpPlan {
  /** LPS mm the anatomy moved from the baseline study to the follow-up. */
  shiftMm: [number, number, number];
  /** Carried lesions in baseline order (index i is baseline lesion i), then a new one if any. */
  lesions: PlacedLesion[];
  daysLater: number;
  time: string;
}

export interface StudyPair {
  baseline: SynthStudy;
  /** Rendered on demand, so that only one volume need be held at a time. */
  followUp(): SynthStudy;
}

const lesionId = (i: number) => `L${i}`;
const r2 = (v: number) => Math.round(v * 100) / 100;

/** The baseline study of a seed (its volume and DICOM those of generateStudy) and its follow-up. */
export function generateStudyPair(seed: number, options: Partial<SynthOptions> = {}): StudyPair {
  const plan = planStudy(seed, options);
  const base = baselineAcquisition(plan);
  const patientKey = `PH${seed}`;
  const baseline = renderStudy(plan, { ...base, lesionIds: plan.lesions.map((_, i) => lesionId(i)), truthExtra: { patientKey, timepoint: 0 } });
  const fu = planFollowUp(plan);
  return {
    baseline,
    followUp: () => {
      const study = renderStudy(plan, {
        name: base.name + FOLLOW_UP_SUFFIX,
        uidParts: ['follow-up'],
        shiftMm: fu.shiftMm,
        lesions: fu.lesions,
        noiseSeed: hash32(seed % 4294967296, FOLLOW_UP_TAG),
        lesionIds: fu.lesions.map((_, i) => lesionId(i)),
        truthExtra: { patientKey, timepoint: 1, followUpOf: base.name, shiftMm: fu.shiftMm },
      });
      const date = addDays(baseline.study.date, fu.daysLater);
      const age = Number(date.slice(0, 4)) - Number(baseline.patient.birthDate.slice(0, 4));
      study.patient = { ...baseline.patient, age: `${String(age).padStart(3, '0')}Y` };
      study.study = { ...baseline.study, date, time: fu.time, accessionNumber: `SYF${seed}`.slice(0, 16), id: `${seed % 1e8}F` };
      return study;
    },
  };
}

export function planFollowUp(plan: StudyPlan): FollowUpPlan {
  const f = new Rng(plan.seed).fork(FOLLOW_UP_TAG);
  const { anatomy, grid, sRange, thickness } = plan;
  const reachS = (p: PlacedLesion, rMax = p.diameterMm / 2) => rMax * (1 + p.draft.pert);
  const fov: [number, number][] = [
    [grid.x0 - grid.ps / 2, grid.x0 + (grid.cols - 0.5) * grid.ps],
    [grid.y0 - grid.ps / 2, grid.y0 + (grid.rows - 0.5) * grid.ps],
  ];

  // ---- the rigid shift: every baseline lesion, as it was, stays inside the scanned volume ----
  // In plane a shift t shows phantom x - t at LPS x: an extent [a, b] stays inside [lo, hi] for t in [lo - a, hi - b].
  const inPlane = (axis: 0 | 1) => plan.lesions.map((p): [number, number] => [fov[axis][0] - (p.center[axis] - reachS(p)), fov[axis][1] - (p.center[axis] + reachS(p))]);
  // Along z a shift t scans phantom s + t: [a, b] stays inside [s0 + t, s1 + t] for t in [b - s1, a - s0].
  const alongS = plan.lesions.map((p): [number, number] => [p.center[2] + reachS(p) - sRange[1], p.center[2] - reachS(p) - sRange[0]]);
  const shiftMm: [number, number, number] = [
    drawShift(f, MAX_SHIFT_MM[0], inPlane(0)),
    drawShift(f, MAX_SHIFT_MM[1], inPlane(1)),
    drawShift(f, MAX_SHIFT_MM[2], [...alongS, [S_TOP - sRange[0], S_BOTTOM - sRange[1]]], thickness),
  ];
  const sWindow: [number, number] = [sRange[0] + shiftMm[2], sRange[1] + shiftMm[2]];
  const fovFu = fov.map(([lo, hi], a) => [lo - shiftMm[a], hi - shiftMm[a]]);

  // ---- each lesion grown and moved where the generator's placement rules allow; else as it was ----
  const lesions: PlacedLesion[] = [];
  plan.lesions.forEach((p, i) => {
    const d = p.draft;
    const inFov = [0, 1].map((a) => p.center[a] - reachS(p) >= fov[a][0] && p.center[a] + reachS(p) <= fov[a][1]);
    const fits = (c: [number, number, number], g: number): boolean => {
      const radii = d.radii.map((r) => r * g) as [number, number, number];
      const rMax = Math.max(...radii), rz = reachS(p, rMax);
      // Shrinking towards a voxel could hide the lesion in partial volume: it must stay visible in the follow-up.
      if (g < 1 && 2 * Math.min(...radii) < SHRINK_FLOOR * plan.minLesionDiameter) return false;
      if (c[2] - rz < sWindow[0] || c[2] + rz > sWindow[1]) return false;
      if ([0, 1].some((a) => inFov[a] && (c[a] - rz < fovFu[a][0] || c[a] + rz > fovFu[a][1]))) return false;
      // Lesions decided so far as they are now, the others as they were (so that keeping one as it was always fits).
      if ([...lesions, ...plan.lesions.slice(i + 1)].some((o) => tooClose(o, c, rMax))) return false;
      return d.home.includes(anatomy.tissueAt(c[0], c[1], c[2])) && enoughInside(anatomy, d, c, radii);
    };
    const growth = f.uniform(GROWTH_RANGE[0], GROWTH_RANGE[1]);
    let center = p.center, g = 1;
    for (let attempt = 0; attempt < 2 * GROWTH_TRIES; attempt++) {
      const tryG = attempt < GROWTH_TRIES ? growth : 1; // a grown lesion that cannot be placed keeps its size
      const m = inBall(f, MAX_LESION_MOVE_MM);
      const c: [number, number, number] = [p.center[0] + m[0], p.center[1] + m[1], p.center[2] + m[2]];
      if (fits(c, tryG)) {
        center = c;
        g = tryG;
        break;
      }
    }
    const scaled = (b: Blob) => new Blob(center[0], center[1], center[2], b.a * g, b.b * g, b.c * g, b.yaw, b.tilt, b.pert);
    const blob = scaled(p.blob), coreBlob = p.coreBlob && scaled(p.coreBlob);
    lesions.push({
      ...p,
      center,
      diameterMm: p.diameterMm * g,
      layers: lesionLayers(i, d, blob, coreBlob),
      labeled: datasetLabels(p.type, p.subtype, f.chance(DEEPLESION_LABEL_RATE)),
      blob,
      coreBlob,
    });
  });
  if (plan.options.lesions[1] > 0 && f.chance(NEW_LESION_CHANCE)) {
    lesions.push(...placeLesions(f.fork(5), anatomy, sWindow, 1, plan.options.mix, plan.minLesionDiameter, lesions));
  }

  const daysLater = f.int(DAYS_LATER[0], DAYS_LATER[1]);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(f.int(7, 19))}${pad(f.int(0, 59))}${pad(f.int(0, 59))}`;
  return { shiftMm, lesions, daysLater, time };
}

/**
 * A shift in [-max, max] (0.01 mm steps) inside every allowed interval that holds 0. With `thickness`,
 * shifts that put the slices within a fifth of a slice of the baseline's are redrawn, so that positions differ.
 */
function drawShift(f: Rng, max: number, allowed: [number, number][], thickness?: number): number {
  // An interval without 0 is a lesion the baseline already cut (outside its field of view): no constraint.
  const holding = allowed.filter(([a, b]) => a <= 0 && b >= 0);
  const lo = Math.max(-max, ...holding.map((a) => a[0]));
  const hi = Math.min(max, ...holding.map((a) => a[1]));
  const offGrid = (t: number) => Math.abs(t / thickness! - Math.round(t / thickness!));
  let t = f.uniform(lo, hi);
  for (let tries = 0; thickness && tries < 20 && offGrid(t) < 0.2; tries++) t = f.uniform(lo, hi);
  return Math.min(Math.floor(hi * 100) / 100, Math.max(Math.ceil(lo * 100) / 100, r2(t)));
}

/** Uniform in the ball of radius r. */
function inBall(f: Rng, r: number): [number, number, number] {
  for (;;) {
    const v: [number, number, number] = [f.uniform(-1, 1), f.uniform(-1, 1), f.uniform(-1, 1)];
    if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] <= 1) return [v[0] * r, v[1] * r, v[2] * r];
  }
}

/** YYYYMMDD plus days. */
function addDays(yyyymmdd: string, days: number): string {
  const t = new Date(Date.UTC(Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)) - 1, Number(yyyymmdd.slice(6, 8)) + days));
  return `${t.getUTCFullYear()}${String(t.getUTCMonth() + 1).padStart(2, '0')}${String(t.getUTCDate()).padStart(2, '0')}`;
}
