import { decodeHead } from '../../../src/detect/decode';
import { parseManifest } from '../../../src/detect/load-manifest';
import { accumulate, toMean, transformInput, untransformOutput, type ImageBatch } from '../../../src/detect/test-time-augmentation';

/** A batch whose every value encodes its own (image, channel, y, x), so any misplacement shows. */
function indexed(n: number, channels: number, h: number, w: number): ImageBatch {
  const data = new Float32Array(n * channels * h * w);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < channels; c++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[((i * channels + c) * h + y) * w + x] = i * 1000 + c * 100 + y * 10 + x;
  return { data, n, channels, h, w };
}
const at = (b: ImageBatch, d: Float32Array, i: number, c: number, y: number, x: number) => d[((i * b.channels + c) * b.h + y) * b.w + x];

describe('test-time augmentation transforms', () => {
  const b = indexed(2, 3, 4, 5);

  it('flipX mirrors every row of every image and channel', () => {
    const f = transformInput(b, 'flipX');
    expect(at(b, f, 1, 2, 3, 0)).toBe(1000 + 200 + 30 + 4);
    expect(at(b, f, 0, 0, 0, 4)).toBe(0);
    expect(at(b, f, 0, 1, 2, 1)).toBe(100 + 20 + 3);
  });

  it('flipY mirrors the rows, reverseSlices reverses the channel order of each image', () => {
    expect(at(b, transformInput(b, 'flipY'), 1, 0, 0, 2)).toBe(1000 + 30 + 2);
    const r = transformInput(b, 'reverseSlices');
    expect(at(b, r, 1, 0, 2, 3)).toBe(1000 + 200 + 20 + 3);
    expect(at(b, r, 1, 1, 2, 3)).toBe(1000 + 100 + 20 + 3);
  });

  it('untransforming the transformed map restores the original; reverseSlices leaves output maps in place', () => {
    for (const aug of ['flipX', 'flipY'] as const) {
      const there = { ...b, data: transformInput(b, aug) };
      expect(Array.from(untransformOutput(there, aug))).toEqual(Array.from(b.data));
    }
    expect(untransformOutput(b, 'reverseSlices')).toBe(b.data);
    expect(Array.from(b.data)).toEqual(Array.from(indexed(2, 3, 4, 5).data)); // inputs are never modified in place
  });

  it('a heatmap peak seen through a mirror decodes to the same box once mapped back', () => {
    // 16 x 12 input pixels, stride 4: a 4 x 3 cell map. The plain pass peaks at cell (1, 2); a mirror-consistent
    // model looking at the x-mirrored image peaks at cell (4 - 1 - 1, 2) = (2, 2).
    const hw = { h: 3, w: 4 };
    const plainHm = new Float32Array(12);
    plainHm[2 * 4 + 1] = 0.6;
    const flippedHm = new Float32Array(12);
    flippedHm[2 * 4 + 2] = 0.8;
    const mean = Float32Array.from(plainHm);
    accumulate(mean, untransformOutput({ data: flippedHm, n: 1, channels: 1, ...hw }, 'flipX'));
    toMean(mean, 2);
    const size = new Float32Array(24).fill(6);
    const offset = new Float32Array(24).fill(0.5);
    const d = decodeHead({ heatmap: mean, size, offset, channels: 1, ...hw }, 4, 0.1, 10);
    expect(d).toHaveLength(1);
    expect(d[0].cell).toEqual([1, 2]);
    expect(d[0].score).toBeCloseTo(0.7, 6);
    expect(d[0].box).toEqual([3, 7, 9, 13]);
  });

  it('averaging needs maps of one size', () => {
    expect(() => accumulate(new Float32Array(3), new Float32Array(4))).toThrow(/3 and 4/);
  });
});

describe('manifest testTimeAugmentation', () => {
  const m = {
    name: 'm',
    version: '1',
    file: 'model.onnx',
    input: { name: 'input', slices: 3, sliceIntervalMm: 2, pixelSpacingMm: 1.5, huWindow: [-1024, 1024], sizeMultiple: 16 },
    output: { format: 'centernet', stride: 4, heads: [{ name: 'u', heatmap: 'h', size: 's', offset: 'o', classes: ['lung_nodule'], scoreThreshold: 0.1 }] },
    lesionTypes: ['lung_nodule'],
  };

  it('accepts a list of known augmentations and refuses unknown or repeated ones by field', () => {
    expect(parseManifest({ ...m, output: { ...m.output, testTimeAugmentation: ['flipX', 'reverseSlices'] } }).output.testTimeAugmentation).toEqual(['flipX', 'reverseSlices']);
    expect(() => parseManifest({ ...m, output: { ...m.output, testTimeAugmentation: ['rotate90'] } })).toThrow(/output\.testTimeAugmentation\.0/);
    expect(() => parseManifest({ ...m, output: { ...m.output, testTimeAugmentation: ['flipX', 'flipX'] } })).toThrow(/twice/);
  });
});
