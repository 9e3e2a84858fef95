/**
 * The dashboard's lesion picture: the key slice in a lung or soft-tissue window with the lesion's box drawn,
 * rendered to PNG on the server (pngjs), so the dashboard needs no viewer and no build step.
 */
import { PNG } from 'pngjs';

export interface SlicePixels {
  /** HU values, rows * columns, row-major. */
  hu: Int16Array | Float32Array;
  rows: number;
  columns: number;
}

export interface HuWindow {
  center: number;
  width: number;
}

export const LUNG_WINDOW: HuWindow = { center: -600, width: 1500 };
export const SOFT_TISSUE_WINDOW: HuWindow = { center: 40, width: 400 };

export function windowForLesionType(type: string): HuWindow {
  return type === 'lung_nodule' ? LUNG_WINDOW : SOFT_TISSUE_WINDOW;
}

/** Grey-scale slice with a box [x1, y1, x2, y2] (pixels of the slice) outlined in yellow, 2 px wide. */
export function renderKeySlicePng(s: SlicePixels, win: HuWindow, box?: [number, number, number, number]): Buffer {
  const { rows, columns } = s;
  if (s.hu.length < rows * columns) throw new Error(`slice has ${s.hu.length} pixels, expected ${rows * columns}`);
  const png = new PNG({ width: columns, height: rows });
  const lo = win.center - win.width / 2;
  const scale = 255 / win.width;
  for (let p = 0; p < rows * columns; p++) {
    const g = Math.max(0, Math.min(255, Math.round((s.hu[p] - lo) * scale)));
    const o = p * 4;
    png.data[o] = png.data[o + 1] = png.data[o + 2] = g;
    png.data[o + 3] = 255;
  }
  if (box) drawBox(png, box, [255, 215, 0]);
  return PNG.sync.write(png);
}

function drawBox(png: PNG, box: [number, number, number, number], rgb: [number, number, number]): void {
  const clampX = (v: number) => Math.max(0, Math.min(png.width - 1, Math.round(v)));
  const clampY = (v: number) => Math.max(0, Math.min(png.height - 1, Math.round(v)));
  // A margin of 2 px so the outline does not hide the lesion's edge.
  const x1 = clampX(box[0] - 2), y1 = clampY(box[1] - 2), x2 = clampX(box[2] + 2), y2 = clampY(box[3] + 2);
  const set = (x: number, y: number) => {
    const o = (y * png.width + x) * 4;
    png.data[o] = rgb[0];
    png.data[o + 1] = rgb[1];
    png.data[o + 2] = rgb[2];
  };
  for (let t = 0; t < 2; t++) {
    for (let x = x1; x <= x2; x++) (set(x, clampY(y1 + t)), set(x, clampY(y2 - t)));
    for (let y = y1; y <= y2; y++) (set(clampX(x1 + t), y), set(clampX(x2 - t), y));
  }
}
