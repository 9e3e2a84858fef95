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
  let study: ReturnType<typeof generateStudy>;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-detect-synth-'));
    // A liver lesion; seed 424242 is outside the training (1-11), validation (2, 7001) and test (9001, 9002) seeds.
    study = generateStudy(424242, { size: 256, lesions: [1, 1], region: 'abdomen', thickness: 2.5, slices: 60, mix: { lung_nodule: 0, liver_lesion: 1, kidney_cyst: 0, lymph_node: 0, bone_lesion: 0, soft_tissue: 0 } });
    writeStudyDicom(study, path.join(dir, 'dicom'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** `lens detect` on the study with the given model folder; the findings ranked by IoBB with the truth lesion, and
   * the highest-scoring finding on it (IoBB >= 0.3; findings come in descending score order). */
  function detect(out: string, model?: string) {
    const args = [path.join(repo, 'bin/lens.js'), 'detect', path.join(dir, 'dicom'), '--out', path.join(dir, out), '--no-report', ...(model ? ['--model', model] : [])];
    execFileSync(process.execPath, args, { cwd: repo, env: { ...process.env, LENS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const findings = JSON.parse(fs.readFileSync(path.join(dir, out, 'findings.json'), 'utf8')) as Findings;
    const truth = study.truth.lesions[0];
    const scored = findings.lesions.map((l) => ({ l, o: iobb(l.bboxLPS, truth.bboxLPS) })).sort((a, b) => b.o - a.o);
    const top = findings.lesions.find((l) => iobb(l.bboxLPS, truth.bboxLPS) >= 0.3);
    return { findings, truth, scored, top };
  }

  it('finds the lesion of a one-lesion study', () => {
    expect(study.truth.lesions).toHaveLength(1);
    const { findings, truth, scored } = detect('out');
    expect(findings.studyInstanceUID).toBe(study.volume.studyInstanceUID);
    // eslint-disable-next-line no-console
    console.log(`synthetic ${truth.type} ${truth.diameterMm} mm: ${findings.lesions.length} findings, best IoBB ${scored[0]?.o.toFixed(2)}`);
    expect(scored[0]?.o ?? 0).toBeGreaterThanOrEqual(0.3);
    const hit = scored[0].l;
    expect(study.volume.slices.map((s) => s.sopInstanceUID)).toContain(hit.keySlice.sopInstanceUID);
    // Long axis within a factor of two of the truth diameter (the model's mask has 6 mm cells).
    expect(hit.longAxisMm).toBeGreaterThan(truth.diameterMm / 2);
    expect(hit.longAxisMm).toBeLessThan(truth.diameterMm * 2);
  });

  /** A copy of the shipped model whose manifest asks for these augmentations and reports every lesion. */
  function shippedModelWith(name: string, testTimeAugmentation: string[]): string {
    const shipped = path.join(repo, 'models/lens-ulb');
    const manifest = JSON.parse(fs.readFileSync(path.join(shipped, 'model.json'), 'utf8'));
    const model = path.join(dir, name);
    fs.mkdirSync(model);
    fs.writeFileSync(path.join(model, 'model.json'), JSON.stringify({ ...manifest, output: { ...manifest.output, testTimeAugmentation, lesionScoreThreshold: 0 } }));
    fs.copyFileSync(path.join(shipped, manifest.file), path.join(model, manifest.file));
    return model;
  }

  it('with test-time augmentation in the manifest, averages the extra passes and still finds the lesion', () => {
    // The passes run on real onnxruntime outputs, so a wrong un-mirroring would move or wash out the peak.
    const plain = detect('out-plain', shippedModelWith('model-plain', []));
    const tta = detect('out-tta', shippedModelWith('model-tta', ['flipX', 'flipY', 'reverseSlices']));
    expect(tta.scored[0]?.o ?? 0).toBeGreaterThanOrEqual(0.3);
    expect(tta.top?.type).toBe('liver_lesion');
    // A mirror-consistent model agrees with itself: the averaged score of the lesion's finding stays near the plain
    // one. (The finding with the best IoBB can be a faint duplicate of it, so the lesion's top-scoring hit is compared.)
    expect(Math.abs(tta.top!.score - plain.top!.score)).toBeLessThan(0.15);
    // eslint-disable-next-line no-console
    console.log(`TTA: best IoBB ${tta.scored[0].o.toFixed(2)}, lesion score ${tta.top!.score.toFixed(3)} (plain ${plain.top!.score.toFixed(3)}); inference ${tta.findings.timingsMs?.inference} ms vs ${plain.findings.timingsMs?.inference} ms`);
  });
});
