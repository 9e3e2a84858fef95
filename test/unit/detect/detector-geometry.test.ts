/**
 * End-to-end coordinate check of the detector without a network: a stand-in session answers with a heatmap peak
 * exactly where models/training/data.py puts the training target for a known lesion (input pixel u = i * sx /
 * spacing, centre cell floor(c / stride) plus offset, size = box w, h). The detector must map it back to the
 * lesion's LPS box, key slice and pixels, for a feet-first series with a non-trivial origin.
 */
import type * as ort from 'onnxruntime-node';
import { Detector } from '../../../src/detect/detector';
import type { BoxLPS } from '../../../src/detect/findings';
import type { ModelManifest } from '../../../src/detect/manifest';
import { analysedPositions } from '../../../src/detect/preprocess';
import { lpsToVoxel, voxelToLPS, type Volume } from '../../../src/dicom/volume';
import { iobb } from '../../../src/eval/froc';

const manifest: ModelManifest = {
  name: 'fake',
  version: '1',
  file: 'model.onnx',
  input: { name: 'input', slices: 3, sliceIntervalMm: 2, sliceStrideMm: 2.5, pixelSpacingMm: 1.6, huWindow: [-1000, 1000], sizeMultiple: 16 },
  output: { format: 'centernet', stride: 4, heads: [{ name: 'universal', heatmap: 'hm', size: 'wh', offset: 'off', classes: ['lung_nodule', 'liver_lesion'], scoreThreshold: 0.3 }] },
  lesionTypes: ['lung_nodule', 'liver_lesion'],
};

function volume(): Volume {
  const [cols, rows, n] = [96, 80, 30];
  const spacing: [number, number, number] = [0.8, 0.8, 2];
  const origin: [number, number, number] = [-40, 25, 310];
  const normal: [number, number, number] = [0, 0, -1]; // sorted from head to feet
  return {
    data: new Int16Array(cols * rows * n),
    dims: [cols, rows, n],
    spacing,
    origin,
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal },
    slices: Array.from({ length: n }, (_, k) => ({ sopInstanceUID: `1.2.9.${k}`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', frameNumber: 1, position: [origin[0], origin[1], origin[2] - 2 * k] as [number, number, number] })),
    studyInstanceUID: '1.2.8',
    seriesInstanceUID: '1.2.9',
    frameOfReferenceUID: '1.2.10',
  };
}

/** Answers every run with the training target of one lesion (voxel-edge box) on the positions it covers. */
function fakeSession(v: Volume, box: [number, number, number, number, number, number], batchSize: number): ort.InferenceSession {
  const m = manifest.input;
  const s = manifest.output.stride;
  const zs = analysedPositions(v.dims[2], v.spacing[2], m.sliceStrideMm!);
  const [u0, v0, u1, v1] = [box[0] * v.spacing[0] / m.pixelSpacingMm, box[1] * v.spacing[1] / m.pixelSpacingMm, box[3] * v.spacing[0] / m.pixelSpacingMm, box[4] * v.spacing[1] / m.pixelSpacingMm];
  const [z0, z1] = [box[2] * v.spacing[2], box[5] * v.spacing[2]];
  let calls = 0;
  return {
    run: async (feeds: Record<string, ort.Tensor>) => {
      const [n, , H, W] = feeds.input.dims as number[];
      const h = H / s;
      const w = W / s;
      const plane = h * w;
      const hm = new Float32Array(n * 2 * plane);
      const wh = new Float32Array(n * 2 * plane);
      const off = new Float32Array(n * 2 * plane);
      for (let b = 0; b < n; b++) {
        const z = zs[calls * batchSize + b];
        if (z < z0 || z > z1) continue;
        const cx = (u0 + u1) / 2 / s;
        const cy = (v0 + v1) / 2 / s;
        const i = Math.floor(cy) * w + Math.floor(cx);
        hm[(b * 2 + 1) * plane + i] = 0.9; // channel 1: liver_lesion
        wh[b * 2 * plane + i] = u1 - u0;
        wh[(b * 2 + 1) * plane + i] = v1 - v0;
        off[b * 2 * plane + i] = cx - Math.floor(cx);
        off[(b * 2 + 1) * plane + i] = cy - Math.floor(cy);
      }
      calls++;
      return { hm: { data: hm }, wh: { data: wh }, off: { data: off } };
    },
  } as unknown as ort.InferenceSession;
}

describe('Detector coordinates (stand-in session)', () => {
  it('maps a training-convention target back to the lesion box in LPS, its key slice and pixels', async () => {
    const v = volume();
    // Voxel-edge box of the lesion: columns 30..50, rows 20..36, slices 10..16 (edges at -0.5 / +0.5).
    const box: [number, number, number, number, number, number] = [29.5, 19.5, 9.5, 50.5, 36.5, 16.5];
    const corners = [voxelToLPS(v, box[0], box[1], box[2]), voxelToLPS(v, box[3], box[4], box[5])];
    const truth: BoxLPS = [0, 1, 2].map((a) => Math.min(corners[0][a], corners[1][a])).concat([0, 1, 2].map((a) => Math.max(corners[0][a], corners[1][a]))) as BoxLPS;
    expect(lpsToVoxel(v, corners[0])[2]).toBeCloseTo(9.5);

    const detector = new Detector(manifest, fakeSession(v, box, 4), 'cpu', { batchSize: 4 });
    const { findings } = await detector.detect(v);
    expect(findings.lesions).toHaveLength(1);
    const l = findings.lesions[0];
    expect(l.type).toBe('liver_lesion');
    // In-plane exact (up to rounding); along z within half a stride of the truth.
    expect(l.bboxLPS[0]).toBeCloseTo(truth[0], 1);
    expect(l.bboxLPS[1]).toBeCloseTo(truth[1], 1);
    expect(l.bboxLPS[3]).toBeCloseTo(truth[3], 1);
    expect(l.bboxLPS[4]).toBeCloseTo(truth[4], 1);
    expect(Math.abs(l.bboxLPS[2] - truth[2])).toBeLessThanOrEqual(1.25 + 1e-6);
    expect(Math.abs(l.bboxLPS[5] - truth[5])).toBeLessThanOrEqual(1.25 + 1e-6);
    expect(iobb(l.bboxLPS, truth)).toBeGreaterThan(0.8);
    // Key slice inside the lesion's slices; its box in original pixels is the voxel-edge box.
    const k = Number(l.keySlice.sopInstanceUID.split('.').pop());
    expect(k).toBeGreaterThanOrEqual(10);
    expect(k).toBeLessThanOrEqual(16);
    expect(l.keySlice.box[0]).toBeCloseTo(29.5, 0);
    expect(l.keySlice.box[3]).toBeCloseTo(36.5, 0);
    expect(l.longAxisMm).toBeCloseTo(21 * 0.8, 0);
    expect(l.shortAxisMm).toBeCloseTo(17 * 0.8, 0);
    expect(findings.timingsMs).toEqual({ preprocess: expect.any(Number), inference: expect.any(Number), postprocess: expect.any(Number) });
  });
});
