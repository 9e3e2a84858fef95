import { candidateInput, cropLength, DEFAULT_CROP_SPEC, FEATURE_COUNT } from '../../../src/detect/proposal-crops';
import type { BoxLPS } from '../../../src/detect/findings';
import { voxelToLPS, type Volume } from '../../../src/dicom/volume';

/** 64 x 64 x 20 of fat (-100 HU) with a 40 HU cube of 7 x 7 x 3 voxels around voxel (40, 20, 10). */
function volume(): Volume {
  const dims: [number, number, number] = [64, 64, 20];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-100);
  for (let k = 9; k <= 11; k++) for (let j = 17; j <= 23; j++) for (let i = 37; i <= 43; i++) data[(k * 64 + j) * 64 + i] = 40;
  return {
    data,
    dims,
    spacing: [1, 1, 2.5],
    origin: [-30, -20, 100],
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal: [0, 0, 1] },
    slices: [],
    studyInstanceUID: '1.2',
    seriesInstanceUID: '1.2.3',
    frameOfReferenceUID: '1.2.4',
  };
}

describe('candidateInput', () => {
  const v = volume();
  const spec = DEFAULT_CROP_SPEC;
  const [D, H, W] = spec.size;
  const n = D * H * W;
  const lo = voxelToLPS(v, 36.5, 16.5, 8.5), hi = voxelToLPS(v, 43.5, 23.5, 11.5);
  const box: BoxLPS = [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]];
  const crops = new Float32Array(cropLength(spec));
  const feats = new Float32Array(FEATURE_COUNT);
  candidateInput(v, box, 0.42, spec, crops, feats);
  const soft = (scale: number, z: number, y: number, x: number) => crops[(scale * 2 + 1) * n + (z * H + y) * W + x];

  it('centres both scales on the candidate: the cube is bright at the crop centre and fat at the corners', () => {
    const [lo40, hi40] = spec.windows[1];
    const cube = (40 - lo40) / (hi40 - lo40), fat = (-100 - lo40) / (hi40 - lo40);
    for (const scale of [0, 1]) {
      expect(soft(scale, D / 2, H / 2, W / 2)).toBeCloseTo(cube, 2);
      expect(soft(scale, 0, 0, 0)).toBeCloseTo(fat, 2);
      expect(soft(scale, D - 1, H - 1, W - 1)).toBeCloseTo(fat, 2);
    }
  });

  it('keeps values in [0, 1] and writes the score and log box extents as features', () => {
    expect(Math.min(...crops)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...crops)).toBeLessThanOrEqual(1);
    expect(feats[0]).toBeCloseTo(0.42, 6);
    expect(feats[1]).toBeCloseTo(Math.log(7), 4);
    expect(feats[3]).toBeCloseTo(Math.log(7.5), 4);
  });

  it('scales the second crop with the box: a larger box sees more of the fat around the cube', () => {
    const big: BoxLPS = [box[0] - 10, box[1] - 10, box[2] - 10, box[3] + 10, box[4] + 10, box[5] + 10];
    const c2 = new Float32Array(cropLength(spec));
    candidateInput(v, big, 0.42, spec, c2, new Float32Array(FEATURE_COUNT));
    const brightCount = (c: Float32Array) => c.subarray(3 * n, 4 * n).filter((x) => x > 0.4).length;
    expect(brightCount(c2)).toBeLessThan(brightCount(crops));
    // Scale 1 is fixed: identical for both boxes.
    expect(Array.from(c2.subarray(0, 2 * n))).toEqual(Array.from(crops.subarray(0, 2 * n)));
  });
});
