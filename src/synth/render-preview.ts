/**
 * Preview PNGs of CT slices in lung (-1350..150) and soft-tissue (-160..240) windows, side by side, with truth
 * boxes drawn in red; for judging the phantom beside real CT.
 *
 *   node -r tsx/cjs src/synth/render-preview.ts --seed 7 [--size 512] [--slices N] [--region chest] --out a.png
 *   node -r tsx/cjs src/synth/render-preview.ts --dicom ../shared/data/ct/lung-dx-a0001/series2_5mm_kernelL --slice 40 --out b.png
 *   options: --slice K (sorted index), --dir D (key slices of every lesion), --coronal ROW, --half (half size)
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { SynthStudy } from './study';

export const LUNG_WINDOW: [number, number] = [-1350, 150];
export const SOFT_WINDOW: [number, number] = [-160, 240];

type Box = [number, number, number, number];

/** One slice as RGBA pixels in a window, boxes outlined in red. */
function windowed(hu: ArrayLike<number>, cols: number, rows: number, [lo, hi]: [number, number], boxes: Box[]): Uint8Array {
  const out = new Uint8Array(cols * rows * 4);
  for (let i = 0; i < cols * rows; i++) {
    const g = Math.max(0, Math.min(255, Math.round(((hu[i] - lo) / (hi - lo)) * 255)));
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = g;
    out[4 * i + 3] = 255;
  }
  for (const [x1, y1, x2, y2] of boxes) {
    const put = (x: number, y: number) => {
      if (x < 0 || y < 0 || x >= cols || y >= rows) return;
      const p = 4 * (y * cols + x);
      out[p] = 255; out[p + 1] = 40; out[p + 2] = 40;
    };
    for (let x = x1 - 2; x <= x2 + 2; x++) { put(x, y1 - 2); put(x, y2 + 2); }
    for (let y = y1 - 2; y <= y2 + 2; y++) { put(x1 - 2, y); put(x2 + 2, y); }
  }
  return out;
}

/** PNG with the slice in the lung window (left) and the soft-tissue window (right). */
export function slicePng(hu: ArrayLike<number>, cols: number, rows: number, boxes: Box[] = [], half = false): Buffer {
  const png = new PNG({ width: cols * 2, height: rows });
  const a = windowed(hu, cols, rows, LUNG_WINDOW, boxes), b = windowed(hu, cols, rows, SOFT_WINDOW, boxes);
  for (let j = 0; j < rows; j++) {
    png.data.set(a.subarray(j * cols * 4, (j + 1) * cols * 4), j * cols * 8);
    png.data.set(b.subarray(j * cols * 4, (j + 1) * cols * 4), j * cols * 8 + cols * 4);
  }
  if (!half) return PNG.sync.write(png, { colorType: 2 });
  // Half size (2x2 means): small enough for the docs.
  const small = new PNG({ width: cols, height: rows >> 1 });
  for (let y = 0; y < rows >> 1; y++)
    for (let x = 0; x < cols; x++)
      for (let c = 0; c < 4; c++) {
        const at = (yy: number, xx: number) => png.data[4 * (yy * cols * 2 + xx) + c];
        small.data[4 * (y * cols + x) + c] = (at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1) + 2) >> 2;
      }
  return PNG.sync.write(small, { colorType: 2 });
}

/** A coronal reformat through row j (superior at the top), stretched to square pixels. */
export function coronalPng(study: SynthStudy, j: number): Buffer {
  const [cols, rows, n] = study.volume.dims;
  const [ps, , t] = study.volume.spacing;
  const h = Math.max(1, Math.round((n * t) / ps));
  const img = new Int16Array(cols * h);
  for (let y = 0; y < h; y++) {
    const k = n - 1 - Math.min(n - 1, Math.floor((y * ps) / t));
    img.set(study.volume.data.subarray(k * cols * rows + j * cols, k * cols * rows + (j + 1) * cols), y * cols);
  }
  return slicePng(img, cols, h);
}

/** Previews of a study: every lesion's key slice with its box, and three evenly spaced slices. */
export function writePreviews(study: SynthStudy, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const [cols, rows, n] = study.volume.dims;
  const sliceOf = (k: number) => study.volume.data.subarray(k * cols * rows, (k + 1) * cols * rows);
  const files: string[] = [];
  const keys = new Map<number, Box[]>();
  for (const l of study.truth.lesions) keys.set(l.keySlice.sliceIndex, [...(keys.get(l.keySlice.sliceIndex) ?? []), l.keySliceBoxPx]);
  for (const k of [Math.floor(n * 0.2), Math.floor(n * 0.5), Math.floor(n * 0.8)]) if (!keys.has(k)) keys.set(k, []);
  for (const [k, boxes] of [...keys].sort((x, y) => x[0] - y[0])) {
    const f = join(dir, `slice-${String(k).padStart(4, '0')}.png`);
    writeFileSync(f, slicePng(sliceOf(k), cols, rows, boxes));
    files.push(f);
  }
  return files;
}

/** A real CT series as HU slices sorted along z (uncompressed Implicit/Explicit VR LE files only). */
function readDicomSlice(dir: string, index: number): { hu: Int16Array; cols: number; rows: number; count: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dcmjs = require('dcmjs');
  const items = readdirSync(dir).map((f) => {
    const buf = readFileSync(join(dir, f));
    const dict = dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  });
  items.sort((a: any, b: any) => a.ImagePositionPatient[2] - b.ImagePositionPatient[2]);
  const ds = items[Math.min(items.length - 1, index)];
  const raw = ds.PixelData[0] as ArrayBuffer;
  const px = ds.PixelRepresentation === 1 ? new Int16Array(raw) : new Uint16Array(raw);
  const hu = new Int16Array(px.length);
  for (let i = 0; i < px.length; i++) hu[i] = px[i] * (ds.RescaleSlope ?? 1) + (ds.RescaleIntercept ?? 0);
  return { hu, cols: ds.Columns, rows: ds.Rows, count: items.length };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = arg('out') ?? 'preview.png';
  if (arg('dicom')) {
    const { hu, cols, rows, count } = readDicomSlice(arg('dicom')!, Number(arg('slice') ?? 0));
    writeFileSync(out, slicePng(hu, cols, rows, [], args.includes('--half')));
    process.stdout.write(`${out} (slice ${arg('slice') ?? 0} of ${count})\n`);
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { generateStudy } = require('./study') as typeof import('./study');
    const study = generateStudy(Number(arg('seed') ?? 1), {
      size: Number(arg('size') ?? 512),
      slices: arg('slices') ? Number(arg('slices')) : undefined,
      thickness: arg('thickness') ? Number(arg('thickness')) : undefined,
      region: arg('region') as never,
    });
    const [cols, rows, n] = study.volume.dims;
    const ks = arg('slice') ? [Number(arg('slice'))] : [Math.floor(n / 2)];
    if (arg('coronal')) {
      writeFileSync(out, coronalPng(study, Number(arg('coronal'))));
      process.stdout.write(`${out}\n`);
    } else if (arg('dir')) {
      process.stdout.write(writePreviews(study, arg('dir')!).join('\n') + '\n');
    } else {
      const k = ks[0];
      const boxes = study.truth.lesions.filter((l) => l.keySlice.sliceIndex === k).map((l) => l.keySliceBoxPx);
      writeFileSync(out, slicePng(study.volume.data.subarray(k * cols * rows, (k + 1) * cols * rows), cols, rows, boxes, args.includes('--half')));
      process.stdout.write(`${out} (slice ${k} of ${n})\n`);
    }
  }
}
