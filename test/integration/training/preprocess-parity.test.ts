/**
 * The network input the runtime builds (src/detect/preprocess.ts) equals the one training builds
 * (models/training/data.py, run by Debian's /usr/bin/python3) on the same raw studies, value for value within 1e-5,
 * at every position the runtime analyses. One study upsamples a coarse matrix; the other has 1 mm pixels, where
 * half of the resampled pixels fall exactly between two source pixels (a rounding tie) and the slice positions fall
 * between slices.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../../../src/detect/load-manifest';
import { StackBuilder } from '../../../src/detect/preprocess';
import { generateStudy } from '../../../src/synth/study';
import type { SynthOptions } from '../../../src/synth/options';
import { writeStudyRaw } from '../../../src/synth/write-raw';

const repo = path.resolve(__dirname, '../../..');
const PYTHON = '/usr/bin/python3'; // Debian's, with numpy and scipy (scripts/setup.sh); the python3 on PATH may lack them
const { manifest } = readManifest(path.join(repo, 'models/lens-ulb'));

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-parity-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Python's stacks for the study folder at the given positions: shape and values. */
function pythonStacks(studyDir: string, positionsMm: number[]): { shape: number[]; resampled: number[]; data: Float32Array } {
  const out = path.join(studyDir, 'python-stacks.f32');
  const script = path.join(repo, 'models/training/tests/dump_stacks.py');
  const stdout = execFileSync(PYTHON, [script, studyDir, JSON.stringify(positionsMm), out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const bytes = fs.readFileSync(out);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { ...(JSON.parse(stdout) as { shape: number[]; resampled: number[] }), data };
}

describe.each<[string, number, Partial<SynthOptions>]>([
  ['coarse pixels upsampled, drawn thickness', 61001, { size: 96, slices: 24 }],
  ['1 mm pixels (rounding ties), 1.25 mm slices', 61002, { size: 128, slices: 20, pixelSpacing: 1.0, thickness: 1.25 }],
])('preprocessing parity, %s', (_name, seed, options) => {
  it('gives the same stacks in TypeScript and Python (within 1e-5)', () => {
    const study = generateStudy(seed, options);
    const studyDir = path.join(dir, `study-${seed}`);
    writeStudyRaw(study, studyDir);

    const builder = new StackBuilder(study.volume, manifest);
    const positions = builder.positionsMm.map((_, i) => i);
    const ts = builder.buildBatch(positions);
    const py = pythonStacks(studyDir, builder.positionsMm);

    const { height, width, paddedHeight, paddedWidth } = builder.grid;
    expect(py.resampled).toEqual([height, width]);
    expect(py.shape).toEqual([positions.length, manifest.input.slices, paddedHeight, paddedWidth]);
    expect(py.data.length).toBe(ts.length);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < ts.length; i++) {
      const d = Math.abs(ts[i] - py.data[i]);
      worst = Math.max(worst, d);
      if (d > 1e-5) differing++;
    }
    // A real image (soft tissue and air), not two blank arrays that would agree whatever the code did.
    expect(ts.some((v) => v > 0.45 && v < 0.6)).toBe(true);
    expect(ts.some((v) => v < 0.05)).toBe(true);
    expect({ differing, worst: worst <= 1e-5 ? 'at most 1e-5' : worst }).toEqual({ differing: 0, worst: 'at most 1e-5' });
  });
});
