/**
 * Seeded pseudo-random numbers for the phantom. Everything in src/synth draws from these, never Math.random,
 * so that one seed always gives the same bytes.
 */

/** mulberry32: tiny, fast, good enough for procedural geometry. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed so that neighbouring seeds (1000, 1001, ...) start far apart.
    this.state = hash32(seed >>> 0, Math.floor(seed / 4294967296) >>> 0) || 0x9e3779b9;
  }

  /** Plain mulberry32 started at the seed itself (no mixing): the sequence the fuzz corpus and kill soak were made with. */
  static unmixed(seed: number): Rng {
    const r = new Rng(0);
    r.state = seed >>> 0;
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Index drawn with probability proportional to weights. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Log-uniform in [lo, hi]: small sizes as common as large ones per octave (lesion diameters). */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** A child generator, so that one part of the phantom can change without shifting the others' draws. */
  fork(tag: number): Rng {
    return new Rng(hash32(Math.floor(this.next() * 4294967296), tag) + tag * 7919);
  }
}

/** A 32-bit integer hash of two words (murmur3 finaliser). */
export function hash32(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x85ebca6b, 0xcc9e2d51) ^ Math.imul(b + 0x27d4eb2f, 0x1b873593)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 64k standard normal values: per-pixel noise reads this table with a fast integer generator. */
let normalTable: Float32Array | undefined;
export function standardNormalTable(): Float32Array {
  if (!normalTable) {
    const rng = new Rng(0x5eed);
    normalTable = new Float32Array(65536);
    for (let i = 0; i < normalTable.length; i++) normalTable[i] = rng.normal();
  }
  return normalTable;
}
