/**
 * The shipped ONNX model on a small synthetic study (src/synth, written as DICOM) finds its lesion: `lens detect`
 * -> a finding with IoBB >= 0.3 on the truth box whose key slice and measurements agree with the truth.
 * Runs the command as a child process: onnxruntime-node's tensors do not cross jest's sandboxed typed arrays.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Findings } from '../../../src/detect/findings';
import { iobb } from '../../../src/eval/froc';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';

const repo = path.resolve(__dirname, '../../..');

describe('shipped model on a synthetic study', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-detect-synth-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the lesion of a one-lesion study', () => {
    // A liver lesion; seed 424242 is outside the training (1-6) and test (9001) seeds.
    const study = generateStudy(424242, { size: 256, lesions: [1, 1], region: 'abdomen', thickness: 2.5, slices: 60, mix: { lung_nodule: 0, liver_lesion: 1, kidney_cyst: 0, lymph_node: 0, bone_lesion: 0, soft_tissue: 0 } });
    expect(study.truth.lesions).toHaveLength(1);
    const truth = study.truth.lesions[0];
    writeStudyDicom(study, path.join(dir, 'dicom'));
    execFileSync(process.execPath, [path.join(repo, 'bin/lens.js'), 'detect', path.join(dir, 'dicom'), '--out', path.join(dir, 'out'), '--no-report'], {
      cwd: repo,
      env: { ...process.env, LENS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const findings = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'findings.json'), 'utf8')) as Findings;
    expect(findings.studyInstanceUID).toBe(study.volume.studyInstanceUID);
    const scored = findings.lesions.map((l) => ({ l, o: iobb(l.bboxLPS, truth.bboxLPS) })).sort((a, b) => b.o - a.o);
    // eslint-disable-next-line no-console
    console.log(`synthetic ${truth.type} ${truth.diameterMm} mm: ${findings.lesions.length} findings, best IoBB ${scored[0]?.o.toFixed(2)}`);
    expect(scored[0]?.o ?? 0).toBeGreaterThanOrEqual(0.3);
    const hit = scored[0].l;
    expect(study.volume.slices.map((s) => s.sopInstanceUID)).toContain(hit.keySlice.sopInstanceUID);
    // Long axis within a factor of two of the truth diameter (the model's mask has 6 mm cells).
    expect(hit.longAxisMm).toBeGreaterThan(truth.diameterMm / 2);
    expect(hit.longAxisMm).toBeLessThan(truth.diameterMm * 2);
  });
});
