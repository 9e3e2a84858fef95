/**
 * Paints the layers slice by slice into an Int16 HU volume: partial volume at every edge (in plane from the
 * signed distance, through the slice by sub-sampling small structures), a slight blur for the scanner's
 * resolution, and correlated Gaussian noise.
 */
import type { Layer } from './layers';
import { hash32, standardNormalTable } from './rng';
import type { SliceShape } from './shapes';
import { T } from './tissues';

/** Pixel (i, j) of every slice lies at phantom (x0 + i * ps, y0 + j * ps). */
export interface Grid {
  cols: number;
  rows: number;
  x0: number;
  y0: number;
  ps: number;
}

/** Voxels each lesion ended up covering (at least a quarter of a voxel), for the truth boxes. */
export interface LesionTrack {
  voxels: number;
  min: [number, number, number];
  max: [number, number, number];
  /** Per slice index k: [pixels, iMin, jMin, iMax, jMax]. */
  perSlice: Map<number, [number, number, number, number, number]>;
}

export function newTrack(): LesionTrack {
  return { voxels: 0, min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity], perSlice: new Map() };
}

export interface RenderParams {
  grid: Grid;
  /** s of each slice centre, in output order (k). */
  sOfSlice: number[];
  thickness: number;
  noiseSd: number;
  noiseSeed: number;
}

export function renderVolume(layers: Layer[], p: RenderParams, out: Int16Array, tracks: LesionTrack[]): void {
  const { cols, rows } = p.grid;
  const n = cols * rows;
  const hu = new Float32Array(n);
  const tissue = new Uint8Array(n);
  const tmp = new Float32Array(n);
  const noise = new Float32Array(n);
  for (let k = 0; k < p.sOfSlice.length; k++) {
    paintSlice(layers, p, p.sOfSlice[k], k, hu, tissue, tracks);
    blur121(hu, tmp, cols, rows);
    addNoise(hu, noise, tmp, cols, rows, p.noiseSd, hash32(p.noiseSeed, k));
    const base = k * n;
    for (let i = 0; i < n; i++) {
      const v = Math.round(hu[i]);
      out[base + i] = v < -1024 ? -1024 : v > 3071 ? 3071 : v;
    }
  }
}

/** Paints one slice (no blur, no noise) into hu and tissue; exported for tests and previews. */
export function paintSlice(layers: Layer[], p: RenderParams, s: number, k: number, hu: Float32Array, tissue: Uint8Array, tracks: LesionTrack[]): void {
  const { cols, rows, x0, y0, ps } = p.grid;
  hu.fill(-1000);
  tissue.fill(T.air);
  const half = p.thickness / 2;
  const nsub = p.thickness > 1.5 ? Math.min(5, Math.ceil(p.thickness / 1.25)) : 1;
  const subS: number[] = [];
  for (let m = 0; m < nsub; m++) subS.push(s - half + (p.thickness * (m + 0.5)) / nsub);
  for (const layer of layers) paintLayer(layer);
  function paintLayer(layer: Layer): void {
    const sh = layer.shape;
    if (s + half < sh.s0 || s - half > sh.s1) return;
    let shapes: SliceShape[];
    if (layer.thin && nsub > 1) {
      shapes = [];
      for (const z of subS) {
        const one = sh.at(z);
        if (one) shapes.push(one);
      }
    } else {
      const one = sh.at(Math.min(sh.s1, Math.max(sh.s0, s)));
      shapes = one && s >= sh.s0 && s <= sh.s1 ? [one] : [];
    }
    if (!shapes.length) return;
    let bx0 = Infinity, bx1 = -Infinity, by0 = Infinity, by1 = -Infinity;
    for (const one of shapes) {
      bx0 = Math.min(bx0, one.x0); bx1 = Math.max(bx1, one.x1);
      by0 = Math.min(by0, one.y0); by1 = Math.max(by1, one.y1);
    }
    const w = ps * (layer.edge ?? 1);
    const i0 = Math.max(0, Math.floor((bx0 - w - x0) / ps)), i1 = Math.min(cols - 1, Math.ceil((bx1 + w - x0) / ps));
    const j0 = Math.max(0, Math.floor((by0 - w - y0) / ps)), j1 = Math.min(rows - 1, Math.ceil((by1 + w - y0) / ps));
    if (i0 > i1 || j0 > j1) return;
    const within = layer.within;
    const constHu = typeof layer.hu === 'number' ? layer.hu : undefined;
    const huFn = typeof layer.hu === 'function' ? layer.hu : undefined;
    const track = layer.lesion !== undefined ? tracks[layer.lesion] : undefined;
    const nsh = shapes.length;
    const frac = 1 / (layer.thin && nsub > 1 ? nsub : 1);
    let sl: [number, number, number, number, number] | undefined;
    const paint = (idx: number, i: number, j: number, a: number, x: number, y: number) => {
      const v = constHu ?? huFn!(x, y, s);
      hu[idx] += (v - hu[idx]) * a;
      // A voxel counts for the truth box when a quarter of it is lesion (thin slices, small nodules).
      if (a < (track ? 0.25 : 0.5)) return;
      const was = tissue[idx];
      if (a >= 0.5) tissue[idx] = layer.tissue;
      if (!track) return;
      if (!sl) {
        sl = track.perSlice.get(k);
        if (!sl) track.perSlice.set(k, (sl = [0, Infinity, Infinity, -Infinity, -Infinity]));
      }
      if (was !== T.lesion) sl[0]++;
      if (i < sl[1]) sl[1] = i;
      if (j < sl[2]) sl[2] = j;
      if (i > sl[3]) sl[3] = i;
      if (j > sl[4]) sl[4] = j;
    };
    if (nsh === 1 && layer.distanceLike) {
      // Skip along the row by the distance to the edge (with margin for approximate distances).
      const sdf = shapes[0].sdf;
      for (let j = j0; j <= j1; j++) {
        const y = y0 + j * ps;
        let i = i0;
        while (i <= i1) {
          const x = x0 + i * ps;
          const d = sdf(x, y);
          if (d >= w / 2) {
            i += Math.max(1, Math.floor((0.6 * (d - w / 2)) / ps));
            continue;
          }
          if (d <= -w / 2) {
            const run = Math.min(i1 - i + 1, Math.max(1, Math.floor((0.6 * (-d - w / 2)) / ps)));
            for (let r = 0; r < run; r++, i++) {
              const idx = j * cols + i;
              if (!within || within[tissue[idx]]) paint(idx, i, j, 1, x0 + i * ps, y);
            }
            continue;
          }
          const idx = j * cols + i;
          if (!within || within[tissue[idx]]) paint(idx, i, j, 0.5 - d / w, x, y);
          i++;
        }
      }
      return;
    }
    for (let j = j0; j <= j1; j++) {
      const y = y0 + j * ps;
      let idx = j * cols + i0;
      for (let i = i0; i <= i1; i++, idx++) {
        if (within && !within[tissue[idx]]) continue;
        const x = x0 + i * ps;
        let a = 0;
        for (let m = 0; m < nsh; m++) {
          const d = shapes[m].sdf(x, y);
          a += d <= -w / 2 ? 1 : d >= w / 2 ? 0 : 0.5 - d / w;
        }
        a *= frac;
        if (a > 0) paint(idx, i, j, a, x, y);
      }
    }
  }
  // Fold per-slice lesion pixels into the 3D tracks (a voxel counted once even when two layers drew it).
  for (const t of tracks) {
    const sl = t.perSlice.get(k);
    if (!sl) continue;
    t.voxels += sl[0];
    t.min = [Math.min(t.min[0], sl[1]), Math.min(t.min[1], sl[2]), Math.min(t.min[2], k)];
    t.max = [Math.max(t.max[0], sl[3]), Math.max(t.max[1], sl[4]), Math.max(t.max[2], k)];
  }
}

/** Separable [1 2 1]/4 blur in place (edges clamped): the scanner's in-plane resolution. */
export function blur121(a: Float32Array, tmp: Float32Array, cols: number, rows: number): void {
  for (let j = 0; j < rows; j++) {
    const r = j * cols;
    tmp[r] = (3 * a[r] + a[r + 1]) / 4;
    for (let i = 1; i < cols - 1; i++) tmp[r + i] = (a[r + i - 1] + 2 * a[r + i] + a[r + i + 1]) / 4;
    tmp[r + cols - 1] = (a[r + cols - 2] + 3 * a[r + cols - 1]) / 4;
  }
  for (let i = 0; i < cols; i++) {
    a[i] = (3 * tmp[i] + tmp[cols + i]) / 4;
    const last = (rows - 1) * cols + i;
    a[last] = (tmp[last - cols] + 3 * tmp[last]) / 4;
  }
  for (let j = 1; j < rows - 1; j++) {
    const r = j * cols;
    for (let i = 0; i < cols; i++) a[r + i] = (tmp[r + i - cols] + 2 * tmp[r + i] + tmp[r + i + cols]) / 4;
  }
}

/** Adds Gaussian noise of standard deviation sd after a [1 2 1] blur (so it is correlated like CT noise). */
function addNoise(hu: Float32Array, noise: Float32Array, tmp: Float32Array, cols: number, rows: number, sd: number, seed: number): void {
  const table = standardNormalTable();
  let x = seed | 1;
  for (let i = 0; i < noise.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    noise[i] = table[x & 0xffff];
  }
  blur121(noise, tmp, cols, rows);
  // The blur keeps 0.375 of the white noise's standard deviation.
  const gain = sd / 0.375;
  for (let i = 0; i < hu.length; i++) hu[i] += noise[i] * gain;
}
