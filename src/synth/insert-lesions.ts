/**
 * Synthetic lesions inserted into real CT: the phantom's lesion models (lesions.ts: sizes, HU, margins, irregular
 * outlines) drawn into real anatomy, with exact truth in the `lens synth` truth.json format.
 *
 * Placement: simple HU rules (real-tissue.ts) stand in for the phantom's organs: lung nodules in aerated lung,
 * "liver" lesions in homogeneous solid tissue on the patient's right away from lung, lymph nodes in fat deep inside
 * the body, soft-tissue lesions near the body wall, bone lesions in bone. Kidney cysts are not inserted (no rule
 * finds kidneys). Annotated real lesions are avoided and kept in the truth, so that an evaluation counts them too.
 *
 * Blending: the lesion replaces the local mean HU (5 x 5 box) in proportion to how much of each voxel it covers
 * (partial volume in plane from the signed distance, through the slice by sub-sampling the slice thickness),
 * the change is blurred like the phantom's scanner resolution ([1 2 1]), and the background's own noise is kept:
 * inside the lesion the residual (HU minus local mean) is kept up to 2.5 noise SDs, so that real structure (a vessel
 * crossing a nodule) is replaced while the real noise texture stays.
 */
import type { BoxLPS, LesionType, TruthLesion } from '../detect/findings';
import { lpsToVoxel, voxelToLPS, type Vec3, type Volume } from '../dicom/volume';
import type { Anatomy } from './anatomy';
import { datasetLabels, DEEPLESION_LABEL_RATE, draft, perturbation, probes, type Draft, type LesionMix } from './lesions';
import { buildTissueMap, meanAt, RealTissue, tissueAt, type TissueMap } from './real-tissue';
import { Rng } from './rng';
import { Blob, perturbationMax } from './shapes';
import { blur121 } from './rasterize';
import { CT_IMAGE_STORAGE, type SynthTruthLesion } from './study';
import { synthUid } from './uids';
import type { DicomStudy } from './write-dicom';

/** Types a rule can place in real CT and their default relative frequency (kidney_cyst: no rule finds kidneys). */
export const INSERT_MIX: LesionMix = { lung_nodule: 3, liver_lesion: 2, kidney_cyst: 0, lymph_node: 1.5, bone_lesion: 1, soft_tissue: 1 };

export interface InsertOptions {
  /** Lesions per study [min, max]. */
  lesions: [number, number];
  mix: LesionMix;
  /** Annotated real lesions of the background: kept in the truth and never overlapped. */
  annotated: TruthLesion[];
  /** Name of the background, recorded in the truth (e.g. the data folder). */
  backgroundName: string;
}

export const DEFAULT_INSERT_OPTIONS: InsertOptions = { lesions: [3, 6], mix: INSERT_MIX, annotated: [], backgroundName: 'background' };

export type InsertedTruthLesion = (SynthTruthLesion & { origin: 'inserted' }) | (TruthLesion & { origin: 'annotated' });

export interface InsertedStudy {
  seed: number;
  name: string;
  volume: Volume;
  truth: {
    studyInstanceUID: string;
    seriesInstanceUIDs: string[];
    lesions: InsertedTruthLesion[];
    seed: number;
    background: { name: string; studyInstanceUID: string; seriesInstanceUID: string; noiseSd: number };
  };
}

/** Stored values are 12 bits (HU + 1024), as lens synth writes DICOM; the detector clips at -1024 anyway. */
const HU_MIN = -1024, HU_MAX = 3071;
/** The kept residual inside a lesion, in noise SDs. */
const RESIDUAL_CLIP_SD = 2.5;
/** Gap between lesions and around annotated lesions (mm). */
const GAP_MM = 6;

interface Placed {
  type: LesionType;
  d: Draft;
  blob: Blob;
  core?: Blob;
  /** Centre in the volume frame (mm: i * sx, j * sy, k * sz). */
  c: Vec3;
  hu: number;
}

/** Real CT (`background`) with lesions of seed `seed` inserted; deterministic for (background, seed, options). */
export function insertLesions(background: Volume, seed: number, options: Partial<InsertOptions> = {}): InsertedStudy {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  const o: InsertOptions = { ...DEFAULT_INSERT_OPTIONS, ...options };
  const map = buildTissueMap(background);
  const rng = new Rng(seed);
  const placed = place(rng.fork(3), background, map, o);
  const data = new Int16Array(background.data);
  for (let i = 0; i < data.length; i++) if (data[i] < HU_MIN) data[i] = HU_MIN;
  else if (data[i] > HU_MAX) data[i] = HU_MAX;
  const truthLesions: InsertedTruthLesion[] = [];
  const labelRng = rng.fork(4);
  for (const p of placed) {
    const t = paint(p, background, map, data, labels(labelRng, p));
    if (t) truthLesions.push({ ...t, origin: 'inserted' });
  }
  for (const a of o.annotated) truthLesions.push({ ...a, origin: 'annotated' });

  const uid = (...parts: (string | number)[]) => synthUid('inserted', background.studyInstanceUID, seed, ...parts);
  const volume: Volume = {
    ...background,
    data,
    slices: background.slices.map((s, k) => ({ ...s, sopInstanceUID: uid('sop', k + 1), sopClassUID: CT_IMAGE_STORAGE, frameNumber: 1 })),
    studyInstanceUID: uid('study'),
    seriesInstanceUID: uid('series'),
    frameOfReferenceUID: uid('frame-of-reference'),
  };
  // Sorted slice k is InstanceNumber k + 1; the key slices point into the new series.
  for (const l of truthLesions)
    if (l.origin === 'inserted') l.keySlice = { ...l.keySlice, sopInstanceUID: volume.slices[l.keySlice.sliceIndex].sopInstanceUID };
  return {
    seed,
    name: `inserted-${o.backgroundName}-${seed}`,
    volume,
    truth: {
      studyInstanceUID: volume.studyInstanceUID,
      seriesInstanceUIDs: [volume.seriesInstanceUID],
      lesions: truthLesions,
      seed,
      background: { name: o.backgroundName, studyInstanceUID: background.studyInstanceUID, seriesInstanceUID: background.seriesInstanceUID, noiseSd: Math.round(map.noiseSd * 10) / 10 },
    },
  };
}

function labels(rng: Rng, p: Placed): SynthTruthLesion['labeled'] {
  return datasetLabels(p.type, p.d.subtype, rng.chance(DEEPLESION_LABEL_RATE));
}

// ---------------------------------------------------------------- placement

/** The phantom's draft only reads the liver HU of its anatomy (its samplers, which read more, are not used here). */
function draftIn(type: LesionType, rng: Rng, liverHu: number, maxD: number): Draft | null {
  return draft(type, rng, { hu: { liver: liverHu } } as unknown as Anatomy, maxD);
}

function place(rng: Rng, v: Volume, map: TissueMap, o: InsertOptions): Placed[] {
  const [sx, sy, sz] = v.spacing;
  const ext: Vec3 = [v.dims[0] * sx, v.dims[1] * sy, v.dims[2] * sz];
  const tissue = (p: Vec3) => tissueAt(map, Math.round(p[0] / sx), Math.round(p[1] / sy), Math.round(p[2] / sz));
  const huAt = (p: Vec3) => meanAt(map, Math.round(p[0] / sx), Math.round(p[1] / sy), Math.round(p[2] / sz));
  const ring = (c: Vec3, r: number, n = 16): Vec3[] => Array.from({ length: n }, (_, m) => [c[0] + r * Math.cos((2 * Math.PI * m) / n), c[1] + r * Math.sin((2 * Math.PI * m) / n), c[2]] as Vec3);
  const frac = (pts: Vec3[], ok: RealTissue[]) => pts.filter((p) => ok.includes(tissue(p))).length / pts.length;
  const avoid = o.annotated.map((a) => frameBox(v, a.bboxLPS));
  const bodyCentreX = bodyCentres(v, map);
  const minDiameter = 0.8 * Math.max(sx, sz);

  // Each rule: may a lesion of this draft sit at centre c?
  const fits: Record<LesionType, (c: Vec3, d: Draft) => boolean> = {
    lung_nodule: (c, d) => tissue(c) === RealTissue.lung && frac(probes(c, d.radii), [RealTissue.lung]) >= d.inside && frac(ring(c, 20), [RealTissue.lung]) >= 0.6,
    liver_lesion: (c, d) => {
      if (tissue(c) !== RealTissue.solid) return false;
      const pr = probes(c, d.radii);
      if (frac(pr, [RealTissue.solid]) < 1) return false;
      const hus = [c, ...pr].map(huAt);
      if (Math.max(...hus) - Math.min(...hus) > 60) return false;
      if (frac(ring(c, Math.max(...d.radii) + 15), [RealTissue.lung, RealTissue.outside]) > 0) return false;
      return patientRight(v, c, bodyCentreX);
    },
    kidney_cyst: () => false,
    lymph_node: (c, d) => tissue(c) === RealTissue.fat && frac(probes(c, d.radii), [RealTissue.fat, RealTissue.solid]) >= 0.8 && frac(ring(c, 40), [RealTissue.outside]) === 0,
    bone_lesion: (c, d) => tissue(c) === RealTissue.bone && frac(probes(c, d.radii), [RealTissue.bone]) >= 0.6,
    soft_tissue: (c, d) =>
      (tissue(c) === RealTissue.solid || tissue(c) === RealTissue.fat) && frac(probes(c, d.radii), [RealTissue.solid, RealTissue.fat]) >= d.inside && frac(ring(c, Math.max(...d.radii) + 25), [RealTissue.outside]) > 0,
  };

  const lo = Math.max(0, Math.min(...o.lesions));
  const count = rng.int(lo, Math.max(lo, o.lesions[1]));
  const types = Object.keys(o.mix) as LesionType[];
  const weights = types.map((t) => Math.max(0, o.mix[t]));
  const dead = new Set<LesionType>();
  const placed: Placed[] = [];
  let guard = 0;
  while (placed.length < count && guard++ < count * 6) {
    const live = weights.map((w, i) => (dead.has(types[i]) ? 0 : w));
    if (live.every((w) => w <= 0)) break;
    const type = types[rng.weighted(live)];
    let ok = false;
    for (let attempt = 0; attempt < 30 && !ok; attempt++) {
      // The liver HU the hyperdense model is relative to: a typical enhanced liver; the rule checks homogeneity.
      const d = draftIn(type, rng, 60, Math.max(4, ext[2] * 0.9));
      if (!d) break;
      if (2 * Math.min(...d.radii) < minDiameter) continue;
      const reach = Math.max(...d.radii) * (1 + d.pert);
      if (2 * reach > Math.min(...ext)) continue;
      let c: Vec3 | null = null;
      for (let tryC = 0; tryC < 300 && !c; tryC++) {
        const cand: Vec3 = [rng.uniform(reach, ext[0] - reach), rng.uniform(reach, ext[1] - reach), rng.uniform(reach, ext[2] - reach)];
        const clear = placed.every((p) => dist(p.c, cand) >= reach + Math.max(...p.d.radii) * (1 + p.d.pert) + GAP_MM) && avoid.every((b) => boxDistance(b, cand) >= reach + GAP_MM);
        if (clear && fits[type](cand, d)) c = cand;
      }
      if (!c) continue;
      const blob = new Blob(c[0], c[1], c[2], d.radii[0], d.radii[1], d.radii[2], rng.uniform(0, Math.PI), rng.uniform(-0.6, 0.6), perturbation(rng, d.pert, d.spicules));
      const core = d.core ? new Blob(c[0], c[1], c[2], d.radii[0] * d.core.scale, d.radii[1] * d.core.scale, d.radii[2] * d.core.scale, blob.yaw, blob.tilt, perturbation(rng, 0.1)) : undefined;
      placed.push({ type, d, blob, core, c, hu: d.hu });
      ok = true;
    }
    if (!ok) dead.add(type);
  }
  return placed;
}

const dist = (a: Vec3, b: Vec3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** An LPS box as [min, max] in the volume frame (mm), over its eight corners. */
function frameBox(v: Volume, b: BoxLPS): [Vec3, Vec3] {
  const lo: Vec3 = [Infinity, Infinity, Infinity], hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const x of [b[0], b[3]]) for (const y of [b[1], b[4]]) for (const z of [b[2], b[5]]) {
    const q = lpsToVoxel(v, [x, y, z]);
    for (let a = 0; a < 3; a++) {
      const mm = q[a] * v.spacing[a];
      lo[a] = Math.min(lo[a], mm);
      hi[a] = Math.max(hi[a], mm);
    }
  }
  return [lo, hi];
}

function boxDistance([lo, hi]: [Vec3, Vec3], p: Vec3): number {
  const d = [0, 1, 2].map((a) => Math.max(lo[a] - p[a], 0, p[a] - hi[a]));
  return Math.hypot(d[0], d[1], d[2]);
}

/** Per slice: the mean column index of the body's pixels (where left and right meet). */
function bodyCentres(v: Volume, map: TissueMap): Float64Array {
  const [cols, rows, slices] = v.dims;
  const out = new Float64Array(slices);
  for (let k = 0; k < slices; k++) {
    let s = 0, n = 0;
    for (let j = 0; j < rows; j += 2)
      for (let i = 0; i < cols; i += 2)
        if (!map.outside[(k * rows + j) * cols + i]) {
          s += i;
          n++;
        }
    out[k] = n ? s / n : cols / 2;
  }
  return out;
}

/** Whether c lies on the patient's right of the body's middle (LPS x grows towards the patient's left). */
function patientRight(v: Volume, c: Vec3, centreCol: Float64Array): boolean {
  const k = Math.min(v.dims[2] - 1, Math.max(0, Math.round(c[2] / v.spacing[2])));
  const lpsX = (i: number) => voxelToLPS(v, i, c[1] / v.spacing[1], k)[0];
  return lpsX(c[0] / v.spacing[0]) < lpsX(centreCol[k]);
}

// ---------------------------------------------------------------- painting

/** Blends one lesion into data (see the file comment); returns its truth, or null when it covers no voxel. */
function paint(p: Placed, v: Volume, map: TissueMap, data: Int16Array, labeled: SynthTruthLesion['labeled']): SynthTruthLesion | null {
  const [cols, rows, slices] = v.dims;
  const [sx, sy, sz] = v.spacing;
  const { blob, core, d } = p;
  const reach = Math.max(...d.radii) * (1 + perturbationMax(blob.pert)) + 2 * Math.max(sx, sy) * d.edge;
  const i0 = Math.max(0, Math.floor((p.c[0] - reach) / sx) - 1), i1 = Math.min(cols - 1, Math.ceil((p.c[0] + reach) / sx) + 1);
  const j0 = Math.max(0, Math.floor((p.c[1] - reach) / sy) - 1), j1 = Math.min(rows - 1, Math.ceil((p.c[1] + reach) / sy) + 1);
  const k0 = Math.max(0, Math.floor((p.c[2] - reach) / sz) - 1), k1 = Math.min(slices - 1, Math.ceil((p.c[2] + reach) / sz) + 1);
  const w = i1 - i0 + 1, h = j1 - j0 + 1;
  // Through-plane partial volume as the phantom's renderer: sub-slices across a thick slice.
  const nsub = sz > 1.5 ? Math.min(5, Math.ceil(sz / 1.25)) : 1;
  const edge = Math.max(sx, sy) * d.edge;
  const cover = (shape: Blob, x: number, y: number, z: number) => {
    let a = 0;
    for (let m = 0; m < nsub; m++) {
      const dd = shape.sdf3(x, y, z - sz / 2 + (sz * (m + 0.5)) / nsub);
      a += dd <= -edge / 2 ? 1 : dd >= edge / 2 ? 0 : 0.5 - dd / edge;
    }
    return a / nsub;
  };
  const delta = new Float32Array(w * h), frac = new Float32Array(w * h), tmp = new Float32Array(w * h);
  const clip = RESIDUAL_CLIP_SD * Math.max(map.noiseSd, 1);
  let voxels = 0;
  const min: Vec3 = [Infinity, Infinity, Infinity], max: Vec3 = [-Infinity, -Infinity, -Infinity];
  let keyK = -1, keyCount = 0;
  let keyBox: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = k0; k <= k1; k++) {
    const z = k * sz;
    let count = 0;
    const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
    delta.fill(0);
    frac.fill(0);
    for (let j = j0; j <= j1; j++)
      for (let i = i0; i <= i1; i++) {
        const a = cover(blob, i * sx, j * sy, z);
        if (a <= 0) continue;
        const m0 = map.mean[(k * rows + j) * cols + i];
        let m = m0 + a * (p.hu - m0);
        if (core && d.core) m += cover(core, i * sx, j * sy, z) * (d.core.hu - m);
        const q = (j - j0) * w + (i - i0);
        delta[q] = m - m0;
        frac[q] = a;
        // A voxel counts for the truth box when a quarter of it is lesion (as the phantom's renderer).
        if (a >= 0.25) {
          count++;
          box[0] = Math.min(box[0], i); box[1] = Math.min(box[1], j); box[2] = Math.max(box[2], i); box[3] = Math.max(box[3], j);
        }
      }
    blur121(delta, tmp, w, h);
    blur121(frac, tmp, w, h);
    for (let j = j0; j <= j1; j++)
      for (let i = i0; i <= i1; i++) {
        const q = (j - j0) * w + (i - i0);
        if (frac[q] <= 0 && delta[q] === 0) continue;
        const idx = (k * rows + j) * cols + i;
        const r = data[idx] - map.mean[idx];
        const kept = r < -clip ? -clip : r > clip ? clip : r;
        const out = Math.round(data[idx] + delta[q] + frac[q] * (kept - r));
        data[idx] = out < HU_MIN ? HU_MIN : out > HU_MAX ? HU_MAX : out;
      }
    if (count === 0) continue;
    voxels += count;
    min[0] = Math.min(min[0], box[0]); min[1] = Math.min(min[1], box[1]); min[2] = Math.min(min[2], k);
    max[0] = Math.max(max[0], box[2]); max[1] = Math.max(max[1], box[3]); max[2] = Math.max(max[2], k);
    if (count > keyCount) {
      keyCount = count;
      keyK = k;
      keyBox = box;
    }
  }
  if (voxels === 0) return null;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const centre = voxelToLPS(v, p.c[0] / sx, p.c[1] / sy, p.c[2] / sz);
  return {
    type: p.type,
    subtype: d.subtype,
    labeled,
    bboxLPS: lpsBox(v, [min[0] - 0.5, min[1] - 0.5, min[2] - 0.5], [max[0] + 0.5, max[1] + 0.5, max[2] + 0.5]).map(r3) as BoxLPS,
    keySlice: { sopInstanceUID: v.slices[keyK].sopInstanceUID, sliceIndex: keyK, instanceNumber: keyK + 1 },
    keySliceBoxPx: keyBox,
    centerLPS: [r3(centre[0]), r3(centre[1]), r3(centre[2])],
    diameterMm: Math.round(2 * Math.max(...d.radii) * 10) / 10,
    volumeMm3: Math.round(voxels * sx * sy * sz),
    nominalHU: Math.round(d.core ? d.core.hu : p.hu),
  };
}

/** The LPS box around voxel-index corners lo..hi (all eight corners, so any orientation works). */
export function lpsBox(v: Volume, lo: Vec3, hi: Vec3): BoxLPS {
  const b: BoxLPS = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
  for (const i of [lo[0], hi[0]]) for (const j of [lo[1], hi[1]]) for (const k of [lo[2], hi[2]]) {
    const q = voxelToLPS(v, i, j, k);
    for (let a = 0; a < 3; a++) {
      b[a] = Math.min(b[a], q[a]);
      b[a + 3] = Math.max(b[a + 3], q[a]);
    }
  }
  return b;
}

// ---------------------------------------------------------------- writing

/**
 * The study as write-dicom.ts writes it: a phantom-like identity (never the background's patient), InstanceNumber
 * k + 1 for sorted slice k. The writer stores axial slices with square pixels, which every background here has.
 */
export function insertedDicomStudy(ins: InsertedStudy, source: { kernel?: string; thickness?: number } = {}): DicomStudy {
  const v = ins.volume;
  const axial = Math.abs(v.direction.row[0] - 1) < 1e-3 && Math.abs(v.direction.column[1] - 1) < 1e-3;
  if (!axial) throw new Error(`${ins.truth.background.name}: only axial series (ImageOrientationPatient 1\\0\\0\\0\\1\\0) can be written`);
  if (Math.abs(v.spacing[0] - v.spacing[1]) > 1e-4) throw new Error(`${ins.truth.background.name}: only square pixels can be written (${v.spacing[0]} x ${v.spacing[1]} mm)`);
  const seed = ins.seed;
  return {
    volume: v,
    patient: { name: `INSERTED^${seed}`, id: `INS${seed}`.slice(0, 16), birthDate: '19700101', sex: seed % 2 ? 'M' : 'F', age: '056Y' },
    study: { date: '20260101', time: '120000', description: `CT with inserted lesions (${ins.truth.background.name})`.slice(0, 64), accessionNumber: `INS${seed}`.slice(0, 16), id: String(seed % 1e8) },
    series: {
      description: `Inserted lesions seed ${seed}`,
      number: 2,
      kvp: 120,
      kernel: (source.kernel ?? 'UNKNOWN').slice(0, 16),
      thickness: source.thickness ?? v.spacing[2],
      region: 'chest-abdomen',
      contrast: false,
      noiseSd: ins.truth.background.noiseSd,
    },
    instanceNumbers: v.slices.map((_, k) => k + 1),
  };
}
