/**
 * Lesions: what kinds exist, their HU and sizes, where they may sit, and which simulated datasets label them
 * (docs/contracts.md#synthetic-benchmark). Each lesion is a perturbed ellipsoid placed inside its organ and painted
 * last.
 */
import type { LesionType } from '../detect/findings';
import type { Anatomy } from './anatomy';
import type { Layer } from './layers';
import type { Rng } from './rng';
import { Blob, type Perturbation } from './shapes';
import { T, tissueSet } from './tissues';

export type LesionMix = Record<LesionType, number>;

/** Default relative frequency of each type (types whose organ is outside the scanned range are skipped). */
export const DEFAULT_MIX: LesionMix = { lung_nodule: 3, liver_lesion: 2, kidney_cyst: 1.5, lymph_node: 1.5, bone_lesion: 1, soft_tissue: 1 };

/** Probability that the DeepLesion-like set labels a given lesion (more than half stay unlabeled). */
export const DEEPLESION_LABEL_RATE = 0.4;

export interface PlacedLesion {
  type: LesionType;
  subtype: string;
  /** Phantom coordinates (x, y, s) of the centre. */
  center: [number, number, number];
  /** Longest diameter of the unperturbed ellipsoid (mm). */
  diameterMm: number;
  /** Nominal HU of the lesion (of its solid part for part-solid nodules). */
  hu: number;
  layers: Layer[];
  labeled: DatasetLabels;
  /** What was drawn and the painted shapes, so that a follow-up study can grow and move the same lesion (follow-up.ts). */
  draft: Draft;
  blob: Blob;
  coreBlob?: Blob;
}

export type DatasetLabels = { deeplesion: boolean; luna: boolean; lits: boolean; nihln: boolean };

/** Which simulated datasets label a lesion: the DeepLesion-like draw is the caller's, the single-type sets label every lesion of their type. */
export function datasetLabels(type: LesionType, subtype: string, deeplesion: boolean): DatasetLabels {
  return { deeplesion, luna: type === 'lung_nodule' && subtype !== 'mass', lits: type === 'liver_lesion', nihln: type === 'lymph_node' };
}

/** Whether enough of a lesion's surface (probe points) lies in tissue its type may touch. */
export function enoughInside(anatomy: Anatomy, d: Draft, c: [number, number, number], radii: [number, number, number]): boolean {
  const pr = probes(c, radii);
  const good = pr.filter((p) => d.allowed.includes(anatomy.tissueAt(p[0], p[1], p[2]))).length;
  return good >= d.inside * pr.length;
}

/** The layers that paint lesion `index`: its blob, and the solid core of a part-solid nodule. */
export function lesionLayers(index: number, d: Draft, blob: Blob, core?: Blob): Layer[] {
  const within = tissueSet(...d.paintWithin, T.lesion);
  const layers: Layer[] = [{ name: `lesion-${index}`, shape: blob, tissue: T.lesion, hu: d.hu, within, edge: d.edge, thin: true, lesion: index }];
  if (core && d.core) layers.push({ name: `lesion-${index}-core`, shape: core, tissue: T.lesion, hu: d.core.hu, within, edge: 1, thin: true, lesion: index });
  return layers;
}

export interface Draft {
  subtype: string;
  radii: [number, number, number];
  hu: number;
  /** Tissues the centre must lie in; tissues every probe point around it may lie in. */
  home: number[];
  allowed: number[];
  /** Fraction of probe points that must be allowed. */
  inside: number;
  paintWithin: number[];
  edge: number;
  pert: number;
  spicules?: boolean;
  /** Extra layers (part-solid core) drawn from the blob. */
  core?: { scale: number; hu: number };
  /** A custom centre sampler (lymph nodes near the aorta, bone lesions in vertebrae). */
  sample?: (rng: Rng, sRange: [number, number]) => [number, number, number] | null;
}

export function perturbation(rng: Rng, amount: number, spicules = false): Perturbation | undefined {
  if (amount <= 0) return undefined;
  const waves = spicules ? 7 : 3;
  const p: Perturbation = { amps: [], freqs: [], phases: [], dirs: [] };
  for (let m = 0; m < waves; m++) {
    const hi = spicules && m >= 3;
    p.amps.push(hi ? amount * 0.35 : amount * rng.uniform(0.4, 1) / 2);
    p.freqs.push(hi ? rng.uniform(9, 16) : rng.uniform(2, 5));
    p.phases.push(rng.uniform(0, 2 * Math.PI));
    const v = [rng.normal(), rng.normal(), rng.normal()];
    const n = Math.hypot(v[0], v[1], v[2]) || 1;
    p.dirs.push([v[0] / n, v[1] / n, v[2] / n]);
  }
  return p;
}

const radiiFor = (rng: Rng, d: number, elong: number): [number, number, number] => [
  (d / 2) * rng.uniform(1 - elong, 1),
  (d / 2) * rng.uniform(1 - elong, 1),
  (d / 2) * rng.uniform(1 - elong, 1),
];

export function draft(type: LesionType, rng: Rng, anatomy: Anatomy, maxD: number): Draft | null {
  const liverHu = anatomy.hu.liver;
  switch (type) {
    case 'lung_nodule': {
      const mass = rng.chance(0.15) && maxD > 35;
      const d = mass ? rng.uniform(30, Math.min(60, maxD)) : rng.logUniform(4, Math.min(30, maxD));
      const partSolid = !mass && d >= 8 && rng.chance(0.2);
      return {
        subtype: mass ? 'mass' : partSolid ? 'part-solid nodule' : 'solid nodule',
        radii: radiiFor(rng, d, 0.2),
        hu: partSolid ? rng.uniform(-650, -400) : rng.uniform(0, 60),
        home: [T.lung],
        allowed: [T.lung, T.lungVessel],
        inside: mass ? 0.75 : 0.9,
        paintWithin: [T.lung, T.lungVessel, T.airwayWall, T.airway],
        edge: 1,
        pert: mass ? 0.25 : rng.uniform(0.05, 0.2),
        spicules: mass || (d > 10 && rng.chance(0.3)),
        core: partSolid ? { scale: rng.uniform(0.3, 0.6), hu: rng.uniform(0, 50) } : undefined,
      };
    }
    case 'liver_lesion': {
      const d = rng.logUniform(8, Math.min(50, maxD));
      const hyper = rng.chance(0.2);
      return {
        subtype: hyper ? 'hyperdense' : 'hypodense',
        radii: radiiFor(rng, d, 0.25),
        hu: hyper ? liverHu + rng.uniform(30, 60) : rng.uniform(10, 40),
        home: [T.liver],
        allowed: [T.liver],
        inside: 0.85,
        paintWithin: [T.liver, T.vein],
        edge: rng.uniform(1.2, 2.5),
        pert: rng.uniform(0.05, 0.2),
      };
    }
    case 'kidney_cyst': {
      const d = rng.uniform(8, Math.min(40, maxD));
      return {
        subtype: 'cyst',
        radii: radiiFor(rng, d, 0.1),
        hu: rng.uniform(0, 15),
        home: [T.kidney],
        // Cysts may bulge out of the kidney (exophytic) against fat, liver, spleen or psoas.
        allowed: [T.kidney, T.renalSinus, T.visceralFat, T.liver, T.spleen, T.muscle],
        inside: 0.9,
        paintWithin: [T.kidney, T.renalSinus, T.visceralFat],
        edge: 0.8,
        pert: 0.02,
        sample: (g, [s0, s1]) => {
          const k = g.pick(anatomy.marks.kidneys);
          const s = k[2] + g.uniform(-0.8, 0.8) * k[3];
          if (s < s0 || s > s1) return null;
          return [k[0] + g.uniform(-25, 25), k[1] + g.uniform(-25, 25), s];
        },
      };
    }
    case 'lymph_node': {
      const shortAxis = rng.uniform(8, Math.min(25, maxD / 1.5));
      const long = shortAxis * rng.uniform(1.1, 1.6);
      const r: [number, number, number] = [shortAxis / 2, shortAxis / 2 * rng.uniform(1, 1.2), long / 2];
      return {
        subtype: 'node',
        radii: r,
        hu: rng.uniform(30, 60),
        home: [T.mediastinalFat, T.visceralFat],
        allowed: [T.mediastinalFat, T.visceralFat],
        inside: 0.8,
        paintWithin: [T.mediastinalFat, T.visceralFat],
        edge: 1,
        pert: 0.05,
        sample: (g, [s0, s1]) => {
          const pts = anatomy.marks.aorta.filter((p) => p[2] >= s0 - 40 && p[2] <= s1 + 40);
          if (pts.length < 2) return null;
          const q = g.int(0, pts.length - 2), t = g.next();
          const a = pts[q], b = pts[q + 1];
          const s = a[2] + (b[2] - a[2]) * t;
          if (s < s0 || s > s1) return null;
          const ang = g.uniform(0, 2 * Math.PI), dist = a[3] + r[1] + g.uniform(3, 15);
          return [a[0] + (b[0] - a[0]) * t + Math.cos(ang) * dist, a[1] + (b[1] - a[1]) * t + Math.sin(ang) * dist, s];
        },
      };
    }
    case 'bone_lesion': {
      const lytic = rng.chance(0.65);
      return {
        subtype: lytic ? 'lytic' : 'sclerotic',
        radii: radiiFor(rng, rng.uniform(7, Math.min(22, maxD)), 0.2),
        hu: lytic ? rng.uniform(20, 90) : rng.uniform(550, 900),
        home: [T.cancellous],
        allowed: [T.cancellous, T.cortical, T.disc],
        inside: 0.7,
        paintWithin: [T.cancellous, T.cortical],
        edge: 1.2,
        pert: 0.12,
        sample: (g, [s0, s1]) => {
          const s = g.uniform(s0, s1);
          const sp = anatomy.marks.spine(s);
          return [g.uniform(-0.5, 0.5) * sp.rx, sp.y + g.uniform(-0.4, 0.4) * sp.ry, s];
        },
      };
    }
    case 'soft_tissue': {
      const d = rng.uniform(10, Math.min(40, maxD));
      const inMuscle = rng.chance(0.35);
      return {
        subtype: inMuscle ? 'intramuscular' : 'subcutaneous',
        radii: radiiFor(rng, d, 0.35),
        hu: inMuscle ? (rng.chance(0.5) ? rng.uniform(5, 25) : rng.uniform(90, 130)) : rng.uniform(25, 55),
        home: inMuscle ? [T.muscle] : [T.subcutFat],
        allowed: [T.subcutFat, T.muscle],
        inside: 0.7,
        paintWithin: [T.subcutFat, T.muscle],
        edge: 1.2,
        pert: rng.uniform(0.05, 0.2),
      };
    }
  }
}

/** Probe points on the ellipsoid surface (axes and diagonals) at 90 % of the radii. */
export function probes(c: [number, number, number], r: [number, number, number]): [number, number, number][] {
  const out: [number, number, number][] = [];
  const k = 0.9, d = 0.9 / Math.sqrt(3);
  for (const [a, b, e] of [[k, 0, 0], [-k, 0, 0], [0, k, 0], [0, -k, 0], [0, 0, k], [0, 0, -k]]) out.push([c[0] + a * r[0], c[1] + b * r[1], c[2] + e * r[2]]);
  for (const a of [-d, d]) for (const b of [-d, d]) for (const e of [-d, d]) out.push([c[0] + a * r[0], c[1] + b * r[1], c[2] + e * r[2]]);
  return out;
}

/**
 * Places `count` lesions inside the scanned range [s0, s1] (whole lesions only), drawing types from `mix`.
 * Gives up on a type after many failed tries (organ absent or too small) and tries another. Lesions thinner
 * than minDiameter (about a voxel) are not drawn. New lesions keep clear of `existing` ones (a follow-up's new
 * lesion) and are numbered after them.
 */
export function placeLesions(rng: Rng, anatomy: Anatomy, sRange: [number, number], count: number, mix: LesionMix, minDiameter = 0, existing: readonly PlacedLesion[] = []): PlacedLesion[] {
  const placed: PlacedLesion[] = [];
  const types = Object.keys(mix) as LesionType[];
  const weights = types.map((t) => Math.max(0, mix[t]));
  const dead = new Set<LesionType>();
  const { halfWidth, anterior, posterior } = anatomy.marks;
  const span = sRange[1] - sRange[0];
  let guard = 0;
  while (placed.length < count && guard++ < count * 6) {
    const live = weights.map((w, i) => (dead.has(types[i]) ? 0 : w));
    if (live.every((w) => w <= 0)) break;
    const type = types[rng.weighted(live)];
    let ok = false;
    for (let attempt = 0; attempt < 30 && !ok; attempt++) {
      const d = draft(type, rng, anatomy, Math.max(4, span * 0.9));
      if (!d) break;
      // Lesions smaller than a voxel would vanish in partial volume: draw again.
      if (2 * Math.min(...d.radii) < minDiameter) continue;
      const rz = Math.max(...d.radii) * (1 + d.pert);
      if (2 * rz > span) continue;
      const sLo = sRange[0] + rz, sHi = sRange[1] - rz;
      let c: [number, number, number] | null = null;
      for (let tryC = 0; tryC < 150 && !c; tryC++) {
        const cand = d.sample ? d.sample(rng, [sLo, sHi]) : ([rng.uniform(-halfWidth, halfWidth), rng.uniform(-anterior, posterior), rng.uniform(sLo, sHi)] as [number, number, number]);
        if (cand && d.home.includes(anatomy.tissueAt(cand[0], cand[1], cand[2]))) c = cand;
      }
      if (!c) continue;
      if (!enoughInside(anatomy, d, c, d.radii)) continue;
      const rMax = Math.max(...d.radii);
      if ([...existing, ...placed].some((p) => tooClose(p, c!, rMax))) continue;
      const index = existing.length + placed.length;
      const blob = new Blob(c[0], c[1], c[2], d.radii[0], d.radii[1], d.radii[2], rng.uniform(0, Math.PI), rng.uniform(-0.6, 0.6), perturbation(rng, d.pert, d.spicules));
      const coreBlob = d.core ? new Blob(c[0], c[1], c[2], d.radii[0] * d.core.scale, d.radii[1] * d.core.scale, d.radii[2] * d.core.scale, blob.yaw, blob.tilt, perturbation(rng, 0.1)) : undefined;
      placed.push({
        type,
        subtype: d.subtype,
        center: c,
        diameterMm: 2 * rMax,
        hu: d.core ? d.core.hu : d.hu,
        layers: lesionLayers(index, d, blob, coreBlob),
        labeled: datasetLabels(type, d.subtype, rng.chance(DEEPLESION_LABEL_RATE)),
        draft: d,
        blob,
        coreBlob,
      });
      ok = true;
    }
    if (!ok) dead.add(type);
  }
  return placed;
}

/** Lesions keep 6 mm of fat between their unperturbed ellipsoids' longest radii. */
export function tooClose(other: Pick<PlacedLesion, 'center' | 'diameterMm'>, c: [number, number, number], rMax: number): boolean {
  return Math.hypot(other.center[0] - c[0], other.center[1] - c[1], other.center[2] - c[2]) < rMax + other.diameterMm / 2 + 6;
}
