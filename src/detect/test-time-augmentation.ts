/**
 * Test-time augmentation: extra network passes over transformed copies of a batch (mirrored images, reversed slice
 * order), whose outputs are transformed back and averaged with the plain pass before decoding. The transforms are the
 * ones the model saw in training (models/training/data.py augments with the same flips), so each pass is an equally
 * valid opinion and their mean ranks true lesions above one-pass noise (vessels that look round in one view only).
 *
 * Only maps that a mirror leaves meaningful are averaged: heatmaps, box sizes (w, h keep their meaning under a flip)
 * and the mask. Centre offsets are read from the plain pass: under a mirror the sub-cell offset of a cell maps to
 * another convention (0.75 - dx at stride 4), and the plain pass's is exact.
 */

export const TEST_TIME_AUGMENTATIONS = ['flipX', 'flipY', 'reverseSlices'] as const;
export type TestTimeAugmentation = (typeof TEST_TIME_AUGMENTATIONS)[number];

/** A batch of images [n, channels, h, w] in row-major order. */
export interface ImageBatch {
  data: Float32Array;
  n: number;
  channels: number;
  h: number;
  w: number;
}

/** The network input transformed by `aug` (a new array; the input is untouched). */
export function transformInput(input: ImageBatch, aug: TestTimeAugmentation): Float32Array {
  if (aug === 'reverseSlices') return reverseChannels(input);
  return mirror(input, aug);
}

/**
 * An output map of the transformed pass brought back to the plain pass's geometry (a new array). Output cells align
 * with input pixels because the padded input is a whole number of cells wide and high, so mirroring the map undoes
 * mirroring the image. Reversing the slices changes no in-plane position: the map is returned as is.
 */
export function untransformOutput(map: ImageBatch, aug: TestTimeAugmentation): Float32Array {
  if (aug === 'reverseSlices') return map.data;
  return mirror(map, aug);
}

/** Adds `extra` into `sum` element-wise (same length). */
export function accumulate(sum: Float32Array, extra: Float32Array): void {
  if (sum.length !== extra.length) throw new Error(`cannot average maps of ${sum.length} and ${extra.length} values`);
  for (let i = 0; i < sum.length; i++) sum[i] += extra[i];
}

/** Divides every element by `passes`, turning an accumulated sum into the mean. */
export function toMean(sum: Float32Array, passes: number): Float32Array {
  if (passes !== 1) for (let i = 0; i < sum.length; i++) sum[i] /= passes;
  return sum;
}

function mirror(b: ImageBatch, aug: 'flipX' | 'flipY'): Float32Array {
  const { data, n, channels, h, w } = b;
  const out = new Float32Array(data.length);
  const planes = n * channels;
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    for (let y = 0; y < h; y++) {
      const src = base + y * w;
      if (aug === 'flipX') {
        for (let x = 0; x < w; x++) out[src + x] = data[src + w - 1 - x];
      } else {
        out.set(data.subarray(base + (h - 1 - y) * w, base + (h - y) * w), src);
      }
    }
  }
  return out;
}

function reverseChannels(b: ImageBatch): Float32Array {
  const { data, n, channels, h, w } = b;
  const plane = h * w;
  const out = new Float32Array(data.length);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) {
      const from = (i * channels + (channels - 1 - c)) * plane;
      out.set(data.subarray(from, from + plane), (i * channels + c) * plane);
    }
  }
  return out;
}
