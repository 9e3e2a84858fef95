/**
 * The phantom's anatomy: a chest-abdomen drawn from a seed as an ordered list of layers (see layers.ts).
 * Sizes and positions vary per seed; HU values are drawn per study from tissues.HU_RANGES.
 */
import type { Layer } from './layers';
import { Rng } from './rng';
import { Blob, Capsule, ellipseSdf, SliceFn, type SliceShape, type Shape3 } from './shapes';
import { HU_RANGES, T, tissueSet } from './tissues';

/** s (mm inferior of the lung apex) where the phantom's body ends at the top and bottom. */
export const S_TOP = -60;
export const S_BOTTOM = 520;

export interface Anatomy {
  layers: Layer[];
  /** Landmarks used to choose the scanned range and to place lesions. */
  marks: {
    sCarina: number;
    sDomeR: number;
    sDomeL: number;
    sKidney: number;
    /** Widest half-width and deepest anterior/posterior half-depth of the body (mm). */
    halfWidth: number;
    anterior: number;
    posterior: number;
    /** Centre line of the aorta as points (x, y, s) with radius, for para-aortic nodes. */
    aorta: [number, number, number, number][];
    contrast: boolean;
    /** Kidney centres (x, y, s) and half-length along s. */
    kidneys: [number, number, number, number][];
    /** Vertebral body centre y and half-axes at s. */
    spine(s: number): { y: number; rx: number; ry: number };
  };
  hu: Record<string, number>;
  /** Tissue at a point, as the painted volume would label it without partial volume (lesion placement). */
  tissueAt(x: number, y: number, s: number): number;
  /** Signed distance to the lungs (negative inside). */
  lungSdf(x: number, y: number, s: number): number;
}

const smooth = (e0: number, e1: number, x: number) => {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
};
const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

/** A 2D per-slice shape from an sdf and a box. */
function slice(x0: number, x1: number, y0: number, y1: number, sdf: (x: number, y: number) => number): SliceShape {
  return { x0, x1, y0, y1, sdf };
}

/** A chain of tapered tubes through points [x, y, s, r]. */
function tube(points: [number, number, number, number][]): Capsule[] {
  const out: Capsule[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [ax, ay, as, ra] = points[i];
    const [bx, by, bs, rb] = points[i + 1];
    out.push(new Capsule(ax, ay, as, bx, by, bs, ra, rb));
  }
  return out;
}

/** Cheap deterministic value noise in [-1, 1] on a grid of `cell` mm (mottled bowel contents). */
function valueNoise(x: number, y: number, s: number, cell: number, salt: number): number {
  const ix = Math.floor(x / cell), iy = Math.floor(y / cell), is = Math.floor(s / cell);
  let h = Math.imul(ix, 374761393) ^ Math.imul(iy, 668265263) ^ Math.imul(is, 2147483647) ^ salt;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  h ^= h >>> 16;
  return ((h & 0xffff) / 32768) - 1;
}

export function buildAnatomy(rng: Rng): Anatomy {
  const draw = (k: string) => rng.uniform(HU_RANGES[k][0], HU_RANGES[k][1]);
  const contrast = rng.chance(0.45);
  const hu: Record<string, number> = {
    fat: draw('fat'),
    muscle: draw('muscle'),
    lung: draw('lung'),
    heart: draw('heartMuscle'),
    blood: contrast ? draw('bloodContrast') : draw('bloodPlain'),
    liver: draw('liver'),
    spleen: draw('spleen'),
    kidney: draw('kidney'),
    renalSinus: draw('renalSinus'),
    cortical: draw('cortical'),
    cancellous: draw('cancellous'),
    disc: draw('disc'),
    canal: draw('canal'),
    bowelWall: draw('bowelWall'),
    bowelFluid: draw('bowelFluid'),
    stool: draw('stool'),
    gallbladder: draw('gallbladder'),
    pancreas: draw('pancreas'),
  };
  // With contrast the veins enhance less than the arteries (portal-venous-ish phase).
  hu.vein = contrast ? lerp(40, hu.blood, 0.6) : hu.blood;
  if (contrast) hu.heart = 90;

  // ---- body outline, fat, muscle wall, body cavity ------------------------------------------------------
  const aChest = rng.uniform(135, 180);
  const aAbd = aChest * rng.uniform(0.9, 1.12);
  const bChest = aChest * rng.uniform(0.66, 0.8);
  const bAbd = bChest * rng.uniform(0.95, 1.3);
  const fatChest = rng.uniform(4, 22);
  const fatAbd = fatChest * rng.uniform(1.1, 2.2) + 3;
  const wall = rng.uniform(8, 13);
  const backWall = rng.uniform(36, 48);
  const sCarina = rng.uniform(95, 120);
  const sDomeR = rng.uniform(225, 262);
  const sDomeL = sDomeR + rng.uniform(8, 20);
  const tAbd = (s: number) => smooth(sDomeR - 40, sDomeR + 60, s);
  const bodyA = (s: number) => lerp(aChest, aAbd, tAbd(s)) * (1 - 0.12 * smooth(20, -60, s));
  const bodyBA = (s: number) => lerp(bChest, bAbd, tAbd(s)) * (1 - 0.1 * smooth(20, -60, s));
  const bodyBP = (s: number) => lerp(bChest * 1.05, bAbd * 0.95, tAbd(s));
  const fat = (s: number) => lerp(fatChest, fatAbd, tAbd(s));
  const cavA = (s: number) => bodyA(s) - fat(s) - wall;
  const cavBA = (s: number) => bodyBA(s) - fat(s) - wall;
  const cavBP = (s: number) => bodyBP(s) - fat(s) * 0.6 - backWall;
  const cavSdf = (x: number, y: number, s: number) => ellipseSdf(x, y, 0, 0, cavA(s), cavBA(s), cavBP(s));

  const layers: Layer[] = [];
  const add = (name: string, shape: Shape3, tissue: number, h: Layer['hu'], extra: Partial<Layer> = {}) =>
    layers.push({ name, shape, tissue, hu: h, ...extra });

  const maxA = Math.max(aChest, aAbd), maxBA = Math.max(bChest, bAbd), maxBP = Math.max(bChest * 1.05, bAbd * 0.95);
  const yTable = maxBP + rng.uniform(3, 12);
  if (rng.chance(0.75)) {
    // Patient table: a thin curved carbon shell under the patient, foam inside.
    const tableHalf = maxA * rng.uniform(0.85, 1.05);
    const shell = (x: number, y: number, off: number, half: number) => Math.abs(y - (yTable + off - 0.0006 * x * x)) - half;
    add('table-foam', new SliceFn(S_TOP, S_BOTTOM, () => slice(-tableHalf, tableHalf, yTable - 5, yTable + 40, (x, y) => Math.max(Math.abs(x) - tableHalf, shell(x, y, 12, 11)))), T.table, -900);
    add('table-top', new SliceFn(S_TOP, S_BOTTOM, () => slice(-tableHalf, tableHalf, yTable - 5, yTable + 40, (x, y) => Math.max(Math.abs(x) - tableHalf, shell(x, y, 1.5, 1.5)))), T.table, 250);
    add('table-bottom', new SliceFn(S_TOP, S_BOTTOM, () => slice(-tableHalf, tableHalf, yTable - 5, yTable + 40, (x, y) => Math.max(Math.abs(x) - tableHalf, shell(x, y, 23, 1.5)))), T.table, 250);
  }
  add('body', new SliceFn(S_TOP, S_BOTTOM, (s) => { const a = bodyA(s), ba = bodyBA(s), bp = bodyBP(s); return slice(-a, a, -ba, bp, (x, y) => ellipseSdf(x, y, 0, 0, a, ba, bp)); }), T.subcutFat, hu.fat, { distanceLike: true });
  add('muscle-wall', new SliceFn(S_TOP, S_BOTTOM, (s) => { const f = fat(s), a = bodyA(s) - f, ba = bodyBA(s) - f, bp = bodyBP(s) - f * 0.6; return slice(-a, a, -ba, bp, (x, y) => ellipseSdf(x, y, 0, 0, a, ba, bp)); }), T.muscle, hu.muscle, { distanceLike: true });
  // Pectoral muscles over the upper chest wall.
  const pect = rng.uniform(8, 16);
  for (const side of [-1, 1]) {
    add('pectoralis', new Blob(side * aChest * 0.45, -bChest * 0.85, 60, aChest * 0.42, pect, 90, side * 0.35), T.muscle, hu.muscle, { within: tissueSet(T.subcutFat) });
  }
  add('cavity', new SliceFn(S_TOP, S_BOTTOM, (s) => { const a = cavA(s), ba = cavBA(s), bp = cavBP(s); return slice(-a, a, -ba, bp, (x, y) => ellipseSdf(x, y, 0, 0, a, ba, bp)); }), T.mediastinalFat, hu.fat, { distanceLike: true });

  // ---- diaphragm domes: below them the abdomen ------------------------------------------------------------
  const domeDepth = rng.uniform(45, 70);
  const domeParams = [sDomeR, sDomeL].map((s0, i) => {
    const sign = i === 0 ? -1 : 1;
    return { s0, a: cavA(s0) * 0.62, b: (cavBA(s0) + cavBP(s0)) * 0.5, xc: sign * cavA(s0) * 0.42, yc: -cavBA(s0) * 0.1 };
  });
  /** Distance-like depth of s below the diaphragm (negative above it), divided by the slope so that it is ~mm. */
  const belowDome = (x: number, y: number, s: number): number => {
    const d = domeParams[x < 0 ? 0 : 1];
    const post = y > d.yc ? 1.5 : 1;
    const u = (x - d.xc) / d.a, v = (y - d.yc) / d.b;
    const gx = (2 * domeDepth * post * u) / d.a, gy = (2 * domeDepth * post * v) / d.b;
    return (s - d.s0 - domeDepth * post * (u * u + v * v)) / Math.sqrt(1 + gx * gx + gy * gy);
  };
  const sAbdTop = Math.min(sDomeR, sDomeL);
  add('abdomen', new SliceFn(sAbdTop, S_BOTTOM, (s) => { const a = cavA(s), ba = cavBA(s), bp = cavBP(s); return slice(-a, a, -ba, bp, (x, y) => Math.max(ellipseSdf(x, y, 0, 0, a, ba, bp), 4 - belowDome(x, y, s))); }), T.visceralFat, hu.fat, { distanceLike: true });

  // ---- lungs -----------------------------------------------------------------------------------------------
  const medHalf = rng.uniform(20, 30);
  const medX = rng.uniform(-3, 8);
  const apexRise = rng.uniform(35, 55);
  /** The lungs on one slice: constants per slice, the distance per pixel. */
  const lungSlice = (s: number) => {
    const a = cavA(s), ba = cavBA(s), bp = cavBP(s);
    const ax = a * 0.55, bm = (ba + bp) * 0.5;
    return (x: number, y: number): number => {
      const side = x < medX ? -1 : 1;
      const u = (x - side * a * 0.5) / ax, v = y / bm;
      const gx = (2 * apexRise * u) / ax, gy = (2 * apexRise * v) / bm;
      const belowApex = (s - apexRise * (u * u + v * v)) / Math.sqrt(1 + gx * gx + gy * gy);
      // Anteriorly the lungs come closer to the midline than at the hilum.
      const med = medHalf * (0.6 + 0.4 * smooth(-ba * 0.6, -ba * 0.2, y));
      return Math.max(ellipseSdf(x, y, 0, 0, a, ba, bp) + 2, med - side * (x - medX), -belowApex, belowDome(x, y, s));
    };
  };
  const lungSdf = (x: number, y: number, s: number): number => lungSlice(s)(x, y);
  const lungHu = (_x: number, y: number) => hu.lung + 45 * (y / 120);
  for (const side of [-1, 1]) {
    add(side < 0 ? 'lung-right' : 'lung-left', new SliceFn(0, sDomeL + domeDepth * 2.5, (s) => {
      const a = cavA(s), ba = cavBA(s), bp = cavBP(s);
      const f = lungSlice(s);
      return side < 0 ? slice(-a, medX, -ba, bp, f) : slice(medX, a, -ba, bp, f);
    }), T.lung, lungHu, { within: tissueSet(T.mediastinalFat), distanceLike: true });
  }
  // Diaphragm muscle: a band just under the domes, against the lungs.
  add('diaphragm', new SliceFn(sAbdTop - 5, sDomeL + domeDepth * 2.5, (s) => { const a = cavA(s), ba = cavBA(s), bp = cavBP(s); return slice(-a, a, -ba, bp, (x, y) => Math.max(ellipseSdf(x, y, 0, 0, a, ba, bp), Math.abs(belowDome(x, y, s) - 2.5) - 3)); }), T.muscle, hu.muscle, { within: tissueSet(T.visceralFat, T.mediastinalFat), distanceLike: true });

  // ---- spine geometry (needed by many organs) ---------------------------------------------------------------
  const vbRx = (s: number) => lerp(15, 24, smooth(0, 420, s));
  const vbRy = (s: number) => lerp(13, 17, smooth(0, 420, s));
  const vbInset = rng.uniform(0.1, 0.4);
  const yVB = (s: number) => cavBP(s) - vbRy(s) * vbInset;
  // Erector spinae: thick muscle either side of the spinous processes, behind the cavity.
  for (const side of [-1, 1]) {
    add('erector-spinae', new SliceFn(S_TOP, S_BOTTOM, (s) => { const cx = side * lerp(28, 38, tAbd(s)), cy = cavBP(s) + backWall * 0.55, rx = lerp(22, 30, tAbd(s)), ry = backWall * 0.45; return slice(cx - rx, cx + rx, cy - ry, cy + ry, (x, y) => ellipseSdf(x, y, cx, cy, rx, ry)); }), T.muscle, hu.muscle + 5, { within: tissueSet(T.muscle, T.subcutFat) });
  }

  // ---- liver, gallbladder, spleen, stomach, kidneys, pancreas ----------------------------------------------
  const liverH = rng.uniform(140, 185);
  const liverLeft = rng.uniform(0.2, 0.5);
  // The inferior edge: lowest at the right posterior (right lobe), rising towards the left lobe tip and anteriorly.
  const liverBottom = (x: number, s: number, y = 0) => {
    const a = cavA(s), u = (x + a) / (a * 1.3);
    return sDomeR + liverH - u * (liverH - 55) + 35 * (y / a) - 30 * (u - 0.3) * (u - 0.3);
  };
  const liverSdf = (x: number, y: number, s: number) => {
    const a = cavA(s), ba = cavBA(s), bp = cavBP(s);
    // A curved medial edge (the left lobe tapers), not a straight cut.
    const v = (y + ba) / (ba + bp);
    const leftEdge = a * liverLeft - v * a * (liverLeft + 0.2) - a * 0.35 * (v - 0.35) * (v - 0.35);
    return Math.max(ellipseSdf(x, y, 0, 0, a, ba, bp) + 1, 6 - belowDome(x, y, s), (s - liverBottom(x, s, y)) * 0.7, x - leftEdge);
  };
  add('liver', new SliceFn(sDomeR, sDomeR + liverH + 5, (s) => { const a = cavA(s); return slice(-a, a, -cavBA(s), cavBP(s), (x, y) => liverSdf(x, y, s)); }), T.liver, hu.liver, { within: tissueSet(T.visceralFat), distanceLike: true });
  const cA = cavA(sDomeR + 60), cBA = cavBA(sDomeR + 60), cBP = cavBP(sDomeR + 60);
  if (rng.chance(0.6)) {
    const gx = -cA * rng.uniform(0.25, 0.4), gy = -cBA * rng.uniform(0.2, 0.4);
    const gs = liverBottom(gx, sDomeR + 100) - rng.uniform(15, 30);
    add('gallbladder', new Blob(gx, gy, gs, rng.uniform(10, 16), rng.uniform(10, 15), rng.uniform(25, 40), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)), T.gallbladder, hu.gallbladder, { within: tissueSet(T.liver, T.visceralFat) });
  }
  add('spleen', new Blob(cA * 0.62, cBP * 0.35, sDomeL + rng.uniform(35, 55), rng.uniform(18, 26), rng.uniform(40, 60), rng.uniform(40, 55), rng.uniform(0.5, 0.9), 0, { amps: [0.06], freqs: [3], phases: [rng.uniform(0, 6)], dirs: [[1, 0, 0]] }), T.spleen, hu.spleen, { within: tissueSet(T.visceralFat) });
  const stomach = new Blob(cA * rng.uniform(0.2, 0.4), -cBA * rng.uniform(0.05, 0.3), sDomeL + rng.uniform(40, 60), rng.uniform(35, 50), rng.uniform(28, 40), rng.uniform(40, 60), rng.uniform(0.3, 0.8));
  add('stomach-wall', stomach, T.stomachWall, hu.bowelWall, { within: tissueSet(T.visceralFat) });
  add('stomach-content', stomach.offset(-4), T.bowelContent, hu.bowelFluid, { within: tissueSet(T.stomachWall) });
  if (rng.chance(0.8)) {
    const level = stomach.cy - rng.uniform(0, 20);
    const inner = stomach.offset(-4);
    add('stomach-gas', new SliceFn(inner.s0, inner.s1, (s) => { const sh = inner.at(s); return sh && slice(sh.x0, sh.x1, sh.y0, level, (x, y) => Math.max(sh.sdf(x, y), y - level)); }), T.gas, -1000, { within: tissueSet(T.bowelContent) });
  }
  const sKidney = sDomeR + rng.uniform(75, 100);
  const kidneys: [number, number, number, number][] = [];
  for (const side of [-1, 1]) {
    const ks = sKidney - (side > 0 ? rng.uniform(5, 20) : 0);
    const kx = side * rng.uniform(55, 72), ky = yVB(ks) + rng.uniform(-5, 10);
    const yaw = side * rng.uniform(0.35, 0.7);
    const kidney = new Blob(kx, ky, ks, rng.uniform(22, 28), rng.uniform(20, 25), rng.uniform(45, 58), yaw, rng.uniform(-0.25, 0.25));
    kidneys.push([kx, ky, ks, kidney.c]);
    add('kidney', kidney, T.kidney, contrast ? rng.uniform(150, 190) : hu.kidney, { within: tissueSet(T.visceralFat, T.liver, T.spleen) });
    // Renal sinus fat opens towards the hilum (anteromedial).
    add('renal-sinus', new Blob(kx - side * 9, ky - 6, ks, 7, 8, 25, yaw), T.renalSinus, hu.renalSinus, { within: tissueSet(T.kidney) });
  }
  const sPanc = sKidney - rng.uniform(10, 25);
  for (const c of tube([
    [-25, yVB(sPanc) - 45, sPanc + 10, 13],
    [5, yVB(sPanc) - 48, sPanc, 11],
    [cA * 0.4, yVB(sPanc) - 25, sPanc - 15, 9],
  ])) add('pancreas', c, T.pancreas, hu.pancreas, { within: tissueSet(T.visceralFat) });

  // ---- bowel: colon frame and small-bowel loops ------------------------------------------------------------
  const sHep = sKidney + rng.uniform(10, 30);
  const colonR = rng.uniform(16, 23);
  const j = () => rng.uniform(-8, 8);
  const colonPts: [number, number, number, number][] = [
    [-cA * 0.65 + j(), -cBA * 0.1 + j(), S_BOTTOM, colonR],
    [-cA * 0.7 + j(), 0 + j(), sHep + 40, colonR],
    [-cA * 0.6 + j(), -cBA * 0.3 + j(), sHep, colonR * 0.9],
    [-cA * 0.25 + j(), -cBA * 0.7 + j(), sHep + rng.uniform(10, 50), colonR * 0.85],
    [cA * 0.25 + j(), -cBA * 0.7 + j(), sHep + rng.uniform(0, 40), colonR * 0.85],
    [cA * 0.72 + j(), -cBA * 0.05 + j(), sDomeL + rng.uniform(55, 80), colonR * 0.8],
    [cA * 0.75 + j(), cBP * 0.1 + j(), sKidney + 60, colonR * 0.75],
    [cA * 0.7 + j(), 0 + j(), S_BOTTOM, colonR * 0.75],
  ];
  const colon = tube(colonPts);
  const stoolHu = (x: number, y: number, s: number) => hu.stool + 120 * valueNoise(x, y, s, 3.5, 77) + 60 * valueNoise(x, y, s, 7, 12);
  for (const c of colon) {
    add('colon-wall', c, T.bowelWall, hu.bowelWall, { within: tissueSet(T.visceralFat, T.bowelWall) });
    const gas = rng.chance(0.55);
    add('colon-lumen', c.offset(-2.5), gas ? T.gas : T.bowelContent, gas ? -1000 : stoolHu, { within: tissueSet(T.bowelWall) });
  }
  const loops = rng.int(12, 20);
  for (let l = 0; l < loops; l++) {
    let x = rng.uniform(-cA * 0.55, cA * 0.55), y = rng.uniform(-cBA * 0.75, cBA * 0.1), s = rng.uniform(sKidney - 20, S_BOTTOM);
    let dx = rng.normal(), dy = rng.normal(), ds = rng.normal();
    const r = rng.uniform(9, 13);
    const content = rng.weighted([0.6, 0.25, 0.15]);
    const pts: [number, number, number, number][] = [[x, y, s, r]];
    for (let k = 0; k < rng.int(8, 16); k++) {
      dx += rng.normal(0, 0.8); dy += rng.normal(0, 0.8); ds += rng.normal(0, 0.8);
      // Pull back towards the abdomen's centre so that loops stay inside.
      dx -= x / (cA * 1.5); dy -= (y + cBA * 0.35) / (cBA * 1.2);
      const n = Math.hypot(dx, dy, ds) || 1;
      const step = rng.uniform(14, 22);
      x += (dx / n) * step; y += (dy / n) * step; s += (ds / n) * step;
      if (s < sHep - 10) s = sHep - 10;
      pts.push([x, y, s, r]);
    }
    for (const c of tube(pts)) {
      add('small-bowel-wall', c, T.bowelWall, hu.bowelWall, { within: tissueSet(T.visceralFat, T.bowelWall) });
      add('small-bowel-lumen', c.offset(-2.2), content === 1 ? T.gas : T.bowelContent, content === 0 ? hu.bowelFluid : content === 1 ? -1000 : rng.uniform(180, 300), { within: tissueSet(T.bowelWall) });
    }
  }
  // Psoas muscles along the lumbar spine.
  for (const side of [-1, 1]) {
    add('psoas', new SliceFn(sKidney - 20, S_BOTTOM, (s) => {
      const r = lerp(4, 26, smooth(sKidney - 20, S_BOTTOM, s));
      const cx = side * (vbRx(s) + r * 0.8), cy = yVB(s) + 3;
      return slice(cx - r, cx + r, cy - r, cy + r, (x, y) => ellipseSdf(x, y, cx, cy, r, r * 0.85));
    }), T.muscle, hu.muscle, { within: tissueSet(T.visceralFat, T.bowelWall, T.bowelContent, T.gas) });
  }

  // ---- great vessels ---------------------------------------------------------------------------------------
  const yDesc = (s: number) => yVB(s) - vbRy(s) - rng.uniform(6, 10);
  const aortaR = rng.uniform(11, 15);
  const asc: [number, number, number, number] = [-12, -cavBA(150) * 0.3, sCarina + 55, aortaR * 1.15];
  const aortaPts: [number, number, number, number][] = [
    [10, -cavBA(150) * 0.25, sCarina + 90, aortaR * 1.1],
    asc,
    [-10, -cavBA(80) * 0.3, sCarina - 35, aortaR * 1.05],
    [5, -cavBA(70) * 0.05, sCarina - 45, aortaR],
    [18, yDesc(sCarina) + 5, sCarina - 30, aortaR * 0.95],
    [20, yDesc(sCarina + 20), sCarina + 20, aortaR * 0.9],
    [15, yDesc(sDomeR), sDomeR, aortaR * 0.85],
    [8, yDesc(sKidney), sKidney, aortaR * 0.75],
    [6, yDesc(S_BOTTOM), S_BOTTOM, aortaR * 0.7],
  ];
  const aortaTissue = tissueSet(T.mediastinalFat, T.visceralFat, T.lung, T.muscle, T.liver, T.pancreas, T.bowelWall);
  for (const c of tube(aortaPts)) add('aorta', c, T.aorta, hu.blood, { within: aortaTissue });
  // Arch branches up into the neck.
  for (const [bx, r] of [[-8, 6], [4, 5], [12, 5]] as const) {
    for (const c of tube([[bx, -cavBA(60) * 0.15, sCarina - 45, r], [bx * 2.5, -cavBA(0) * 0.1, S_TOP, r * 0.8]])) add('arch-branch', c, T.aorta, hu.blood, { within: aortaTissue });
  }
  const ivcX = -rng.uniform(18, 30);
  for (const c of tube([[-20, -cavBA(150) * 0.2, S_TOP, 9], [-22, -cavBA(150) * 0.22, sCarina + 60, 11], [ivcX, yDesc(sDomeR) - 10, sDomeR + 10, 12], [ivcX, yDesc(sKidney) - 5, sKidney, 12], [ivcX * 0.7, yDesc(S_BOTTOM) - 5, S_BOTTOM, 11]])) {
    add('vena-cava', c, T.vein, hu.vein, { within: tissueSet(T.mediastinalFat, T.visceralFat, T.lung, T.liver, T.muscle, T.pancreas) });
  }
  const paX = rng.uniform(15, 25);
  for (const c of tube([[paX, -cavBA(150) * 0.35, sCarina + 75, 14], [paX - 5, -cavBA(130) * 0.2, sCarina + 25, 13]])) add('pulmonary-trunk', c, T.aorta, hu.blood, { within: aortaTissue });

  // ---- heart ------------------------------------------------------------------------------------------------
  const heart = new Blob(medX + rng.uniform(15, 35), -cavBA(sDomeL - 40) * rng.uniform(0.2, 0.35), sDomeL - rng.uniform(35, 50), rng.uniform(55, 70), rng.uniform(42, 52), rng.uniform(45, 58), rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.5));
  const thorax = tissueSet(T.lung, T.mediastinalFat, T.lungVessel);
  add('pericardial-fat', heart.offset(rng.uniform(3, 8)), T.mediastinalFat, hu.fat, { within: thorax });
  add('heart', heart, T.heart, hu.heart, { within: thorax });
  add('heart-chambers', heart.offset(-9), T.blood, hu.blood, { within: tissueSet(T.heart) });

  // ---- airways: trachea, main bronchi, bronchial tree ---------------------------------------------------------
  const yTrachea = (s: number) => yVB(s) - vbRy(s) - 22;
  const tracheaR = rng.uniform(8, 10);
  const hilumR: [number, number, number] = [medX - medHalf - 6, yTrachea(sCarina) + 12, sCarina + 22];
  const hilumL: [number, number, number] = [medX + medHalf + 6, yTrachea(sCarina) + 14, sCarina + 32];
  const airwayPts: [number, number, number, number][][] = [
    [[2, yTrachea(0) - 8, S_TOP, tracheaR], [0, yTrachea(sCarina), sCarina, tracheaR]],
    [[0, yTrachea(sCarina), sCarina, tracheaR * 0.75], [hilumR[0], hilumR[1], hilumR[2], 6]],
    [[0, yTrachea(sCarina), sCarina, tracheaR * 0.7], [hilumL[0], hilumL[1], hilumL[2], 5.5]],
  ];
  const airwayRng = rng.fork(11);
  const bronchi: Capsule[] = airwayPts.flatMap((p) => tube(p));
  for (const [h, side] of [[hilumR, -1], [hilumL, 1]] as const) bronchi.push(...growTree(airwayRng, h, side, 5, 1.6, lungSdf, 150));
  for (const c of bronchi) {
    const wallT = Math.max(0.8, 0.22 * Math.max(c.ra, c.rb));
    add('airway-wall', c.offset(wallT), T.airwayWall, 40, { within: tissueSet(T.lung, T.mediastinalFat, T.airwayWall), thin: true });
  }
  for (const c of bronchi) add('airway-lumen', c, T.airway, -1000, { within: tissueSet(T.airwayWall), thin: true });
  // Oesophagus behind the trachea, down to the stomach.
  for (const c of tube([[8, yTrachea(0) + tracheaR + 6, S_TOP, 7], [10, yDesc(sCarina + 60) - 4, sCarina + 60, 8], [stomach.cx - 15, stomach.cy, stomach.s0 + 15, 8]])) {
    add('oesophagus', c, T.esophagus, hu.bowelWall, { within: tissueSet(T.mediastinalFat, T.visceralFat, T.lung, T.muscle) });
  }

  // ---- pulmonary vessels ------------------------------------------------------------------------------------
  const vesselRng = rng.fork(17);
  const vessels: Capsule[] = [];
  for (const [h, side] of [[hilumR, -1], [hilumL, 1]] as const) {
    vessels.push(...growTree(vesselRng, [h[0] + side * 2, h[1] - 6, h[2] - 3], side, 7, 0.6, lungSdf, 4000));
    vessels.push(...growTree(vesselRng, [h[0], h[1] + 10, h[2] + 18], side, 6.5, 0.6, lungSdf, 4000));
  }
  for (const c of vessels) add('lung-vessel', c, T.lungVessel, hu.blood, { within: tissueSet(T.lung, T.lungVessel, T.mediastinalFat), thin: true });

  // ---- spine, ribs, sternum ---------------------------------------------------------------------------------
  const cortex = tissueSet(T.cortical);
  add('paravertebral', new SliceFn(S_TOP, S_BOTTOM, (s) => { const rx = vbRx(s) + 5, ry = vbRy(s) + 4, cy = yVB(s); return slice(-rx, rx, cy - ry, cy + ry, (x, y) => ellipseSdf(x, y, 0, cy, rx, ry)); }), T.mediastinalFat, hu.muscle * 0.4, { within: tissueSet(T.lung, T.mediastinalFat, T.lungVessel) });
  let sv = S_TOP - rng.uniform(0, 25);
  while (sv < S_BOTTOM) {
    const lumbar = smooth(sDomeR + 20, sDomeR + 80, sv);
    const h = lerp(21, 28, lumbar) * rng.uniform(0.95, 1.05);
    const disc = lerp(5, 9, lumbar);
    const sc = sv + h / 2;
    const rx = vbRx(sc), ry = vbRy(sc), y0 = yVB(sc);
    const body = (shrink: number) => new SliceFn(sv + shrink, sv + h - shrink, () => slice(-rx, rx, y0 - ry, y0 + ry, (x, y) => ellipseSdf(x, y, 0, y0, rx - shrink, ry - shrink)));
    add('vertebral-body', body(0), T.cortical, hu.cortical, { thin: true });
    add('vertebral-marrow', body(1.3), T.cancellous, hu.cancellous, { within: cortex, thin: true });
    const discShape = new SliceFn(sv + h, sv + h + disc, () => slice(-rx, rx, y0 - ry, y0 + ry, (x, y) => ellipseSdf(x, y, 0, y0, rx - 0.5, ry - 0.5)));
    add('disc', discShape, T.disc, hu.disc, { thin: true });
    // Posterior arch around the canal, spinous and transverse processes.
    const canalR = lerp(7, 9, lumbar), yc = y0 + ry + canalR + 1;
    const arch = new SliceFn(sv, sv + h + disc, () => slice(-canalR - 5, canalR + 5, yc - canalR - 5, yc + canalR + 5, (x, y) => Math.max(ellipseSdf(x, y, 0, yc, canalR + 4.5, canalR + 4.5), -ellipseSdf(x, y, 0, yc, canalR, canalR))));
    add('vertebral-arch', arch, T.cortical, hu.cortical * 0.7, { thin: true });
    add('spinous', new Capsule(0, yc + canalR + 3, sc, 0, yc + canalR + lerp(25, 32, lumbar), sc + lerp(18, 8, lumbar), 3.5, 3), T.cortical, hu.cortical * 0.7, { thin: true });
    for (const side of [-1, 1]) add('transverse', new Capsule(side * (canalR + 3), yc - 2, sc - 3, side * lerp(32, 40, lumbar), yc + lerp(6, 0, lumbar), sc - 4, 4, 3), T.cortical, hu.cortical * 0.7, { thin: true });
    add('canal', new SliceFn(sv - disc, sv + h + disc, () => slice(-canalR, canalR, yc - canalR, yc + canalR, (x, y) => ellipseSdf(x, y, 0, yc, canalR, canalR))), T.canal, hu.canal);
    sv += h + disc;
  }
  const ribSpacing = rng.uniform(22, 27);
  const ribTop = rng.uniform(-20, -5);
  const ribDrop = rng.uniform(95, 130);
  const ribs: Capsule[] = [];
  for (let n = 0; n < 12; n++) {
    const sRib = ribTop + n * ribSpacing;
    const thetaEnd = n < 10 ? Math.PI * rng.uniform(0.72, 0.82) : Math.PI * rng.uniform(0.45, 0.6);
    for (const side of [-1, 1]) {
      const pts: [number, number, number, number][] = [];
      const steps = 12;
      for (let q = 0; q <= steps; q++) {
        const th = 0.1 * Math.PI + (thetaEnd - 0.1 * Math.PI) * (q / steps);
        const s = sRib + ribDrop * (1 - Math.cos(th)) * 0.5;
        const outA = cavA(s) + 5, outB = (Math.cos(th) > 0 ? cavBP(s) : cavBA(s)) + 5;
        pts.push([side * outA * Math.sin(th), outB * Math.cos(th), s, lerp(3.5, 5, q / steps)]);
      }
      ribs.push(...tube(pts));
    }
  }
  for (const c of ribs) add('rib', c, T.cortical, hu.cortical, { thin: true });
  for (const c of ribs) add('rib-marrow', c.offset(-1.4), T.cancellous, hu.cancellous, { within: cortex, thin: true });
  const sternum = new Blob(0, -cavBA(90) - wall * 0.5, rng.uniform(85, 110), rng.uniform(13, 18), 6, rng.uniform(70, 90));
  add('sternum', sternum, T.cortical, hu.cortical, { thin: true });
  add('sternum-marrow', sternum.offset(-1.5), T.cancellous, hu.cancellous, { within: cortex, thin: true });

  // Layers indexed by 10 mm bands of s, so that a point query visits only the few hundred that can reach it.
  const BAND = 10;
  const bands = new Map<number, number[]>();
  layers.forEach((l, i) => {
    for (let b = Math.floor(l.shape.s0 / BAND); b <= Math.floor(l.shape.s1 / BAND); b++) {
      let list = bands.get(b);
      if (!list) bands.set(b, (list = []));
      list.push(i);
    }
  });
  const tissueAt = (x: number, y: number, s: number): number => {
    let t: number = T.air;
    for (const i of bands.get(Math.floor(s / BAND)) ?? []) {
      const l = layers[i];
      if (s < l.shape.s0 || s > l.shape.s1) continue;
      if (l.within && !l.within[t]) continue;
      if (l.shape.sdf3(x, y, s) < 0) t = l.tissue;
    }
    return t;
  };

  const aortaCenter: [number, number, number, number][] = aortaPts.slice(3);
  return {
    layers,
    marks: { sCarina, sDomeR, sDomeL, sKidney, halfWidth: maxA, anterior: maxBA, posterior: Math.max(maxBP, yTable + 40), aorta: aortaCenter, contrast, kidneys, spine: (s) => ({ y: yVB(s), rx: vbRx(s), ry: vbRy(s) }) },
    hu,
    tissueAt,
    lungSdf,
  };
}

/**
 * A branching tube tree (pulmonary vessels, bronchi) grown from a hilum into one lung: each branch splits into
 * two thinner, shorter ones that fan out, until branches get thinner than rMin or leave the lung.
 */
function growTree(
  rng: Rng,
  root: [number, number, number],
  side: number,
  r0: number,
  rMin: number,
  lungSdf: (x: number, y: number, s: number) => number,
  maxSegments: number,
): Capsule[] {
  const out: Capsule[] = [];
  type Tip = { p: [number, number, number]; d: [number, number, number]; r: number; gen: number };
  // Primary branches towards the upper, middle/lingula and lower lung, and backwards.
  const primaries: [number, number, number][] = [
    [side * 0.5, -0.3, -1],
    [side * 1, -0.5, 0.3],
    [side * 0.6, 0.5, 1],
    [side * 0.4, 0.8, 0.6],
  ];
  const queue: Tip[] = primaries.map((d) => ({ p: root, d: norm(d.map((v) => v + rng.normal(0, 0.15)) as [number, number, number]), r: r0 * rng.uniform(0.75, 0.95), gen: 0 }));
  while (queue.length && out.length < maxSegments) {
    const tip = queue.shift()!;
    const len = Math.min(25, Math.max(6, tip.r * rng.uniform(4, 7)));
    const e: [number, number, number] = [tip.p[0] + tip.d[0] * len, tip.p[1] + tip.d[1] * len, tip.p[2] + tip.d[2] * len];
    if (tip.gen > 0 && lungSdf(e[0], e[1], e[2]) > -Math.min(2, tip.r)) continue;
    const rEnd = tip.r * 0.97;
    out.push(new Capsule(tip.p[0], tip.p[1], tip.p[2], e[0], e[1], e[2], tip.r, rEnd));
    // Monopodial: the trunk continues almost straight, fanning away from the hilum; side branches leave at wide angles.
    const away = norm([e[0] - root[0], e[1] - root[1], e[2] - root[2]]);
    const main = rEnd * rng.uniform(0.9, 0.97);
    if (main >= rMin) {
      queue.push({ p: e, d: norm([tip.d[0] + rng.normal(0, 0.12) + 0.12 * away[0], tip.d[1] + rng.normal(0, 0.12) + 0.12 * away[1], tip.d[2] + rng.normal(0, 0.12) + 0.12 * away[2]]), r: main, gen: tip.gen + 1 });
    }
    for (let b = 0; b < 2; b++) {
    const side = rEnd * rng.uniform(0.5, 0.8);
    if (side >= rMin && rng.chance(b === 0 ? 0.9 : 0.35)) {
      const q = norm([rng.normal(), rng.normal(), rng.normal()]);
      const dot = q[0] * tip.d[0] + q[1] * tip.d[1] + q[2] * tip.d[2];
      const perp = norm([q[0] - dot * tip.d[0], q[1] - dot * tip.d[1], q[2] - dot * tip.d[2]]);
      const k = rng.uniform(0.7, 1.4);
      queue.push({ p: e, d: norm([tip.d[0] + k * perp[0] + 0.2 * away[0], tip.d[1] + k * perp[1] + 0.2 * away[1], tip.d[2] + k * perp[2] + 0.2 * away[2]]), r: side, gen: tip.gen + 1 });
    }
    }
  }
  return out;
}

function norm(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}
