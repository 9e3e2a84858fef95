import type { ModelManifest } from '../../../src/detect/manifest';
import { analysedPositions, InPlaneGrid, resampleSlice, StackBuilder } from '../../../src/detect/preprocess';

const manifest = (over: Partial<ModelManifest['input']> = {}): ModelManifest => ({
  name: 't',
  version: '1',
  file: 'model.onnx',
  input: { name: 'input', slices: 3, sliceIntervalMm: 2, sliceStrideMm: 2.5, pixelSpacingMm: 1, huWindow: [-1000, 1000], sizeMultiple: 16, ...over },
  output: { format: 'centernet', stride: 4, heads: [{ name: 'u', heatmap: 'h', size: 's', offset: 'o', classes: ['lung_nodule'], scoreThreshold: 0.3 }] },
  lesionTypes: ['lung_nodule'],
});

/** A volume whose voxel value encodes its slice (100 * k) plus a ramp along x. */
function volume(cols: number, rows: number, slices: number, spacing: [number, number, number]) {
  const data = new Int16Array(cols * rows * slices);
  for (let k = 0; k < slices; k++) for (let j = 0; j < rows; j++) for (let i = 0; i < cols; i++) data[k * rows * cols + j * cols + i] = 100 * k + i;
  return { data, dims: [cols, rows, slices] as [number, number, number], spacing };
}

describe('in-plane grid and resampling', () => {
  it('maps input pixel u to original index u * spacing / sx, centres of pixel 0 aligned (as the training)', () => {
    const g = new InPlaneGrid(512, 400, 0.75, 0.5, 1.5, 16);
    expect(g.width).toBe(Math.floor((511 * 0.75) / 1.5) + 1); // 256
    expect(g.height).toBe(Math.floor((399 * 0.5) / 1.5) + 1); // 134
    expect(g.paddedWidth).toBe(256);
    expect(g.paddedHeight).toBe(144);
    expect(g.toOriginalX(10)).toBeCloseTo(20);
    expect(g.toOriginalY(10)).toBeCloseTo(30);
    expect(g.toInputX(g.toOriginalX(7.3))).toBeCloseTo(7.3);
  });

  it('resamples bilinearly: a ramp stays a ramp', () => {
    const v = volume(20, 4, 1, [0.5, 0.5, 1]);
    const g = InPlaneGrid.forVolume(v, manifest());
    const s = resampleSlice(v, 0, g);
    // Input pixel u samples original x = 2u: the ramp value is 2u.
    expect(Array.from(s.subarray(0, g.width))).toEqual(Array.from({ length: g.width }, (_, u) => 2 * u));
  });
});

describe('analysedPositions', () => {
  it('spaces positions by the stride, centred on the series', () => {
    expect(analysedPositions(11, 1, 2.5)).toEqual([0, 2.5, 5, 7.5, 10]);
    expect(analysedPositions(12, 1, 2.5)).toEqual([0.5, 3, 5.5, 8, 10.5]);
    expect(analysedPositions(1, 5, 2.5)).toEqual([0]);
  });
});

describe('StackBuilder', () => {
  it('interpolates channels along z at the slice interval, clamps at the ends, windows and pads', () => {
    const v = volume(8, 8, 6, [1, 1, 4]); // slices at 0, 4, ..., 20 mm
    const b = new StackBuilder(v, manifest());
    expect(b.positionsMm[0]).toBeCloseTo(0);
    const batch = b.buildBatch([0, 1]);
    const { paddedWidth: pw, paddedHeight: ph } = b.grid;
    expect(pw).toBe(16);
    const at = (n: number, c: number, y: number, x: number) => batch[((n * 3 + c) * ph + y) * pw + x];
    // Position 0 (z=0): channels at z=-2 (clamped to slice 0), 0, 2 (half way to slice 1: HU 50 at x=0).
    const norm = (hu: number) => (hu + 1000) / 2000;
    expect(at(0, 0, 0, 0)).toBeCloseTo(norm(0));
    expect(at(0, 1, 0, 0)).toBeCloseTo(norm(0));
    expect(at(0, 2, 0, 0)).toBeCloseTo(norm(50));
    // Position 1 (z=2.5): channels at 0.5, 2.5, 4.5 mm -> slices 0.125, 0.625, 1.125 -> HU 12.5, 62.5, 112.5 (rounded in-plane first, then interpolated).
    expect(at(1, 0, 3, 2)).toBeCloseTo(norm(12.5 + 2));
    expect(at(1, 2, 3, 2)).toBeCloseTo(norm(112.5 + 2));
    // Padding beyond the 8x8 image is 0.
    expect(at(0, 1, 0, 8)).toBe(0);
    expect(at(0, 1, 8, 0)).toBe(0);
  });

  it('clips HU to the window', () => {
    const v = volume(4, 4, 1, [1, 1, 1]);
    v.data.fill(3000);
    const b = new StackBuilder(v, manifest());
    expect(b.buildBatch([0])[0]).toBe(1);
    v.data.fill(-3000);
    expect(new StackBuilder(v, manifest()).buildBatch([0])[0]).toBe(0);
  });

  it('streams: each slice is resampled once and the window of held slices stays small', () => {
    const v = volume(16, 16, 200, [1, 1, 1]);
    const b = new StackBuilder(v, manifest());
    let maxHeld = 0;
    for (let s = 0; s < b.positionsMm.length; s += 4) {
      b.buildBatch(Array.from({ length: Math.min(4, b.positionsMm.length - s) }, (_, i) => s + i));
      maxHeld = Math.max(maxHeld, b.cachedSlices);
    }
    expect(b.resampledCount).toBeLessThanOrEqual(200);
    // A batch of 4 positions 2.5 mm apart with +-2 mm channels spans ~12 slices of 1 mm (+ the previous batch's tail).
    expect(maxHeld).toBeLessThan(20);
  });
});
