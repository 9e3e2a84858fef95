/**
 * generateStudy: one synthetic CT study (volume + truth + patient/study attributes), deterministic by seed.
 */
import type { BoxLPS, LesionType, TruthLesion, TruthStudy } from '../detect/findings';
import type { Volume } from '../dicom/volume';
import { buildAnatomy, S_BOTTOM, S_TOP, type Anatomy } from './anatomy';
import { placeLesions, type PlacedLesion } from './lesions';
import { DEFAULT_OPTIONS, REGIONS, type Region, type SynthOptions } from './options';
import { newTrack, renderVolume, type Grid } from './rasterize';
import { Rng } from './rng';
import { T } from './tissues';
import { synthUid } from './uids';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export interface SynthTruthLesion extends TruthLesion {
  /** Only with follow-up studies: the same lesion has the same id in the baseline and its follow-up. */
  lesionId?: string;
  type: LesionType;
  subtype: string;
  labeled: { deeplesion: boolean; luna: boolean; lits: boolean; nihln: boolean };
  /** Key slice (most lesion pixels): its SOP instance, index k in the sorted volume, and InstanceNumber. */
  keySlice: { sopInstanceUID: string; sliceIndex: number; instanceNumber: number };
  /** Box on the key slice in pixels [x1, y1, x2, y2]: first and last column/row the lesion covers (inclusive). */
  keySliceBoxPx: [number, number, number, number];
  centerLPS: [number, number, number];
  diameterMm: number;
  volumeMm3: number;
  nominalHU: number;
}

export interface SynthTruthStudy extends TruthStudy {
  lesions: SynthTruthLesion[];
  /** The generator's seed of the study (planStudy(seed, options) rebuilds its phantom). */
  seed: number;
  /** Only with follow-up studies (follow-up.ts): one phantom patient's studies share patientKey. */
  patientKey?: string;
  /** 0 baseline, 1 follow-up. */
  timepoint?: number;
  /** The follow-up's baseline folder name, and the true rigid shift (LPS mm) of the anatomy from it (for evaluating a matcher only). */
  followUpOf?: string;
  shiftMm?: [number, number, number];
}

export interface SynthStudy {
  seed: number;
  /** Folder name for this study. */
  name: string;
  volume: Volume;
  truth: SynthTruthStudy;
  patient: { name: string; id: string; birthDate: string; sex: 'M' | 'F'; age: string };
  study: { date: string; time: string; description: string; accessionNumber: string; id: string };
  series: { description: string; number: number; kvp: number; kernel: string; thickness: number; region: Region; contrast: boolean; noiseSd: number };
  /** 'descending': InstanceNumber 1 is the top (most superior) slice; 'ascending': the bottom one. */
  instanceOrder: 'ascending' | 'descending';
  /** InstanceNumber of each sorted slice k. */
  instanceNumbers: number[];
  /** Phantom frame: LPS x, y equal phantom x, y; LPS z = zApex - s. */
  zApex: number;
}

const THICKNESSES = [1, 1.25, 1.5, 2, 2.5, 3, 5];
const round = (v: number, step: number) => Math.round(v / step) * step;
const r3 = (v: number) => Math.round(v * 1000) / 1000;

/** The anatomy of a seed's phantom (what generateStudy paints), for tests and tools. */
export function anatomyFor(seed: number) {
  return buildAnatomy(new Rng(seed).fork(1));
}

/** Everything drawn for a seed before painting: anatomy, scan geometry and lesions (a follow-up re-scans it, follow-up.ts). */
export interface StudyPlan {
  seed: number;
  options: SynthOptions;
  anatomy: Anatomy;
  region: Region;
  thickness: number;
  /** Scanned range along s [start, end]; s of each slice centre, k = 0 the most inferior. */
  sRange: [number, number];
  sOfSlice: number[];
  zApex: number;
  /** The image grid in LPS x, y (= phantom x, y when the phantom is not shifted). */
  grid: Grid;
  noiseSd: number;
  instanceOrder: 'ascending' | 'descending';
  kvp: number;
  /** Lesions thinner than this (about a voxel) are not drawn. */
  minLesionDiameter: number;
  lesions: PlacedLesion[];
}

/**
 * One acquisition of a plan. The scanner's frame stays the plan's (same grid, slice positions and origin); the
 * phantom lies shifted in it: LPS (x, y) = phantom (x, y) + shift, LPS z = zApex - s + shift z.
 */
export interface Acquisition {
  name: string;
  /** Extra parts of every UID, so that a second acquisition of one seed gets UIDs of its own. */
  uidParts: string[];
  shiftMm: [number, number, number];
  lesions: PlacedLesion[];
  noiseSeed: number;
  /** Truth lesionId of each lesion (parallel to lesions) and extra fields of the truth study record. */
  lesionIds?: string[];
  truthExtra?: Record<string, unknown>;
}

export function generateStudy(seed: number, options: Partial<SynthOptions> = {}): SynthStudy {
  const plan = planStudy(seed, options);
  return renderStudy(plan, baselineAcquisition(plan));
}

export function baselineAcquisition(plan: StudyPlan): Acquisition {
  return { name: `synth-${plan.seed}`, uidParts: [], shiftMm: [0, 0, 0], lesions: plan.lesions, noiseSeed: plan.seed };
}

export function planStudy(seed: number, options: Partial<SynthOptions> = {}): StudyPlan {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
  const o: SynthOptions = { ...DEFAULT_OPTIONS, ...options };
  if (!Number.isInteger(o.size) || o.size < 32 || o.size > 1024) throw new Error(`size must be an integer 32-1024, got ${o.size}`);
  if (o.slices !== undefined && (!Number.isInteger(o.slices) || o.slices < 1 || o.slices > 2000)) throw new Error(`slices must be an integer 1-2000, got ${o.slices}`);
  if (o.thickness !== undefined && !(o.thickness >= 0.5 && o.thickness <= 10)) throw new Error(`thickness must be 0.5-10 mm, got ${o.thickness}`);
  const rng = new Rng(seed);
  const anatomy = buildAnatomy(rng.fork(1)); // = anatomyFor(seed)
  const g = rng.fork(2);
  const m = anatomy.marks;

  // ---- scanned range and geometry ----
  const thickness = o.thickness ?? THICKNESSES[g.weighted([2, 2, 1, 1, 2, 2, 3])];
  const region: Region = o.region ?? REGIONS[g.weighted([2, 1.5, 1])];
  const bounds: Record<Region, [number, number]> = {
    chest: [-15, m.sDomeL + 50],
    abdomen: [m.sDomeR - 30, S_BOTTOM - 30],
    'chest-abdomen': [-15, S_BOTTOM - 30],
  };
  const [r0, r1] = bounds[region];
  const slices = o.slices ?? Math.max(1, Math.round((r1 - r0) / thickness));
  const extent = slices * thickness;
  let sStart = extent <= r1 - r0 ? r0 + g.uniform(0, r1 - r0 - extent) : (r0 + r1) / 2 - extent / 2;
  sStart = Math.max(S_TOP, Math.min(sStart, S_BOTTOM - extent));
  sStart = round(sStart, 0.125);
  const zApex = round(g.uniform(-250, 100), 0.25);
  // Sorted ascending along z (the normal): k = 0 is the most inferior slice, s decreases with k.
  const sOfSlice = Array.from({ length: slices }, (_, k) => sStart + (slices - 1 - k + 0.5) * thickness);

  const fovNeeded = Math.max(2 * m.halfWidth + g.uniform(20, 70), m.anterior + m.posterior + 10);
  let ps = o.pixelSpacing ?? fovNeeded / o.size;
  if (o.pixelSpacing === undefined && o.size === 512) ps = Math.min(1, Math.max(0.6, ps));
  ps = Math.round(ps * 1e4) / 1e4;
  const yMid = (m.posterior - m.anterior) / 2;
  const x0 = r3(-((o.size - 1) / 2) * ps + g.uniform(-5, 5));
  const y0 = r3(yMid - ((o.size - 1) / 2) * ps + g.uniform(-5, 5));
  const noiseSd = o.noiseSd ?? Math.min(25, Math.max(6, g.uniform(10, 20) * Math.sqrt(2 / thickness)));
  const instanceOrder = o.instanceOrder ?? (g.chance(0.5) ? 'descending' : 'ascending');
  const kvp = g.pick([100, 120, 120, 140]);

  // ---- lesions ----
  const lo = Math.max(0, Math.min(o.lesions[0], o.lesions[1]));
  const count = g.int(lo, Math.max(lo, o.lesions[1]));
  const minLesionDiameter = 0.8 * Math.max(ps, thickness);
  const sRange: [number, number] = [sStart, sStart + extent];
  const lesions = placeLesions(rng.fork(3), anatomy, sRange, count, o.mix, minLesionDiameter);
  return { seed, options: o, anatomy, region, thickness, sRange, sOfSlice, zApex, grid: { cols: o.size, rows: o.size, x0, y0, ps }, noiseSd, instanceOrder, kvp, minLesionDiameter, lesions };
}

const TISSUE_NAMES = new Map<number, string>(Object.entries(T).map(([name, id]) => [id, name]));

/**
 * The normal tissue of the phantom (lesions left out) at a patient LPS point of a study's baseline acquisition:
 * what a false candidate really is (a gallbladder, a vessel seen end-on), for the benchmarks' breakdowns.
 */
export function phantomTissueAt(plan: StudyPlan, lps: [number, number, number]): string {
  const id = plan.anatomy.tissueAt(lps[0], lps[1], plan.zApex - lps[2]);
  return TISSUE_NAMES.get(id) ?? `tissue ${id}`;
}

export function renderStudy(plan: StudyPlan, acq: Acquisition): SynthStudy {
  const { seed, anatomy, thickness, region, sOfSlice, zApex, noiseSd, instanceOrder, kvp } = plan;
  const { cols, rows, x0, y0, ps } = plan.grid;
  const [dx, dy, dz] = acq.shiftMm;
  const slices = sOfSlice.length;
  const zOfSlice = sOfSlice.map((s) => r3(zApex - s));

  // ---- render: the phantom shifted by the acquisition's shift under the plan's grid ----
  const data = new Int16Array(cols * rows * slices);
  const tracks = acq.lesions.map(() => newTrack());
  const layers = [...anatomy.layers, ...acq.lesions.flatMap((p) => p.layers)];
  const phantomGrid = { cols, rows, x0: x0 - dx, y0: y0 - dy, ps };
  renderVolume(layers, { grid: phantomGrid, sOfSlice: sOfSlice.map((s) => s + dz), thickness, noiseSd, noiseSeed: acq.noiseSeed }, data, tracks);

  // ---- identity and geometry ----
  const uid = (...parts: (string | number)[]) => synthUid(seed, ...acq.uidParts, ...parts);
  const studyInstanceUID = uid('study');
  const seriesInstanceUID = uid('series');
  const frameOfReferenceUID = uid('frame-of-reference');
  const instanceNumbers = sOfSlice.map((_, k) => (instanceOrder === 'ascending' ? k + 1 : slices - k));
  const volume: Volume = {
    data,
    dims: [cols, rows, slices],
    spacing: [ps, ps, thickness],
    origin: [x0, y0, zOfSlice[0]],
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal: [0, 0, 1] },
    slices: zOfSlice.map((z, k) => ({ sopInstanceUID: uid('sop', instanceNumbers[k]), sopClassUID: CT_IMAGE_STORAGE, frameNumber: 1, position: [x0, y0, z] })),
    studyInstanceUID,
    seriesInstanceUID,
    frameOfReferenceUID,
  };

  // ---- truth ----
  const lesions: SynthTruthLesion[] = [];
  acq.lesions.forEach((p, idx) => {
    const t = tracks[idx];
    if (t.voxels === 0) return; // fully hidden by its surroundings: not a lesion anyone could see
    let keyK = -1, best = -1;
    for (const [k, sl] of t.perSlice) if (sl[0] > best || (sl[0] === best && k < keyK)) { best = sl[0]; keyK = k; }
    const sl = t.perSlice.get(keyK)!;
    const bbox: BoxLPS = [
      r3(x0 + (t.min[0] - 0.5) * ps), r3(y0 + (t.min[1] - 0.5) * ps), r3(zOfSlice[t.min[2]] - thickness / 2),
      r3(x0 + (t.max[0] + 0.5) * ps), r3(y0 + (t.max[1] + 0.5) * ps), r3(zOfSlice[t.max[2]] + thickness / 2),
    ];
    lesions.push({
      ...(acq.lesionIds ? { lesionId: acq.lesionIds[idx] } : {}),
      type: p.type,
      subtype: p.subtype,
      bboxLPS: bbox,
      labeled: p.labeled,
      keySlice: { sopInstanceUID: volume.slices[keyK].sopInstanceUID, sliceIndex: keyK, instanceNumber: instanceNumbers[keyK] },
      keySliceBoxPx: [sl[1], sl[2], sl[3], sl[4]],
      centerLPS: [r3(p.center[0] + dx), r3(p.center[1] + dy), r3(zApex - p.center[2] + dz)],
      diameterMm: Math.round(p.diameterMm * 10) / 10,
      volumeMm3: Math.round(t.voxels * ps * ps * thickness),
      nominalHU: Math.round(p.hu),
    });
  });

  const d = new Rng(seed ^ 0x51ed);
  const sex = d.chance(0.5) ? 'M' : 'F';
  const year = d.int(2019, 2024), by = year - d.int(30, 85);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const date = `${year}${pad(d.int(1, 12))}${pad(d.int(1, 28))}`;
  const birthDate = `${by}${pad(d.int(1, 12))}${pad(d.int(1, 28))}`;
  const regionText = region === 'chest-abdomen' ? 'Chest-Abdomen' : region === 'chest' ? 'Chest' : 'Abdomen';

  return {
    seed,
    name: acq.name,
    volume,
    truth: { studyInstanceUID, seriesInstanceUIDs: [seriesInstanceUID], lesions, seed, patientID: `PH${seed}`, ...acq.truthExtra },
    patient: { name: `PHANTOM^${seed}`, id: `PH${seed}`, birthDate, sex, age: `${pad(year - by, 3)}Y` },
    study: { date, time: `${pad(d.int(7, 19))}${pad(d.int(0, 59))}${pad(d.int(0, 59))}`, description: `CT ${regionText} (synthetic phantom)`, accessionNumber: `SYN${seed}`.slice(0, 16), id: String(seed % 1e8) },
    series: { description: `Phantom ${regionText} ${thickness} mm${anatomy.marks.contrast ? ' C+' : ''}`, number: 2, kvp, kernel: 'STANDARD', thickness, region, contrast: anatomy.marks.contrast, noiseSd: Math.round(noiseSd * 10) / 10 },
    instanceOrder,
    instanceNumbers,
    zApex,
  };
}
