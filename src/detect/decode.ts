/**
 * Decoding of one CenterNet head for one image: peaks of the heatmap (3x3 max-pool NMS), top-K, score threshold,
 * then the box from the size and offset maps. Boxes are in input pixels (pixel centres at integer coordinates).
 */
import type { Box2D } from './box2d';

/** Views on one image's outputs of one head: heatmap [C, h, w], size [2, h, w] (w, h), offset [2, h, w] (dx, dy). */
export interface HeadMaps {
  heatmap: Float32Array;
  size: Float32Array;
  offset: Float32Array;
  channels: number;
  h: number;
  w: number;
}

export interface Detection2D {
  box: Box2D;
  score: number;
  /** Heatmap channel (the head's class index). */
  channel: number;
  /** Output cell of the peak. */
  cell: [number, number];
}

export function decodeHead(maps: HeadMaps, stride: number, threshold: number, topK: number): Detection2D[] {
  const { heatmap, size, offset, channels, h, w } = maps;
  const plane = h * w;
  const peaks: { score: number; channel: number; x: number; y: number }[] = [];
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = heatmap[base + y * w + x];
        if (!(v >= threshold)) continue;
        if (isLocalMax(heatmap, base, x, y, w, h, v)) peaks.push({ score: v, channel: c, x, y });
      }
    }
  }
  peaks.sort((a, b) => b.score - a.score);
  return peaks.slice(0, topK).map(({ score, channel, x, y }) => {
    const i = y * w + x;
    const cx = (x + offset[i]) * stride;
    const cy = (y + offset[plane + i]) * stride;
    const bw = Math.max(0, size[i]);
    const bh = Math.max(0, size[plane + i]);
    return { box: [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2] as Box2D, score, channel, cell: [x, y] as [number, number] };
  });
}

/** Equal to the maximum of its 3x3 neighbourhood (what max-pool NMS keeps: plateaus keep every equal cell). */
function isLocalMax(hm: Float32Array, base: number, x: number, y: number, w: number, h: number, v: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= h) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
      if (hm[base + yy * w + xx] > v) return false;
    }
  }
  return true;
}
