/**
 * The on-disk cache of generated evaluation studies shared by evaluate-model.ts and tune-postprocess.ts:
 * <cache>/<seed>/volume.i16 (Volume.data) + study.json (seed, name, truth, volume geometry). Generation is
 * deterministic, so a cached study is the study of that seed as long as src/synth is unchanged.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TruthStudy } from '../src/detect/findings';
import type { Volume } from '../src/dicom/volume';
import { generateStudy } from '../src/synth/study';

export interface TestStudy {
  seed: number;
  name: string;
  volume: Volume;
  truth: TruthStudy;
}

/** The cached study of this seed, or undefined when the cache has no complete entry for it. */
export function readCachedStudy(cache: string, seed: number): TestStudy | undefined {
  const dir = path.join(cache, String(seed));
  if (!fs.existsSync(path.join(dir, 'study.json'))) return undefined;
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8')) as Omit<TestStudy, 'volume'> & { volume: Omit<Volume, 'data'> };
  const buf = fs.readFileSync(path.join(dir, 'volume.i16'));
  return { ...meta, volume: { ...meta.volume, data: new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2) } };
}

/** The study of this seed, from the cache when there, else generated (and cached when a cache is given). */
export function testStudy(seed: number, cache?: string): TestStudy {
  const cached = cache ? readCachedStudy(cache, seed) : undefined;
  if (cached) return cached;
  const s = generateStudy(seed);
  const study: TestStudy = { seed, name: s.name, volume: s.volume, truth: s.truth };
  if (cache) {
    const dir = path.join(cache, String(seed));
    fs.mkdirSync(dir, { recursive: true });
    const { data, ...geometry } = s.volume;
    fs.writeFileSync(path.join(dir, 'volume.i16'), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    // study.json last: its presence marks a complete entry.
    fs.writeFileSync(path.join(dir, 'study.json'), JSON.stringify({ seed, name: s.name, truth: s.truth, volume: geometry }));
  }
  return study;
}
