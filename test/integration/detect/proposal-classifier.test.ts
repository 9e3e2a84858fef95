/**
 * The two stages chained (src/detect/proposal-classifier.ts) through `lens detect`: a detector manifest naming the
 * shipped proposal classifier (models/lens-fpr) in `proposalClassifier`, real ONNX sessions both. Runs the command
 * as a child process: onnxruntime-node's tensors do not cross jest's sandboxed typed arrays.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Findings } from '../../../src/detect/findings';
import { readProposalManifest } from '../../../src/detect/proposal-classifier';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { writeChainedModel } from '../../../scripts/chain-models';

const repo = path.resolve(__dirname, '../../..');

function detect(dicom: string, model: string, threshold: number, out: string): Findings {
  execFileSync(process.execPath, [path.join(repo, 'bin/lens.js'), 'detect', dicom, '--model', model, '--threshold', String(threshold), '--out', out, '--no-report', '--threads', '1'], {
    cwd: repo,
    env: { ...process.env, LENS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(fs.readFileSync(path.join(out, 'findings.json'), 'utf8')) as Findings;
}

describe('lens detect with the proposal classifier chained', () => {
  let tmp: string;
  let dicom: string;
  let chained: string;
  const { manifest } = readProposalManifest(path.join(repo, 'models/lens-fpr'));
  const rule = manifest.scoring;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-fpr-'));
    dicom = path.join(tmp, 'dicom');
    writeStudyDicom(generateStudy(424242, { size: 192, slices: 40, thickness: 5, region: 'chest', lesions: [3, 3] }), dicom);
    // The shipped detector, its manifest naming the second stage.
    chained = path.join(tmp, 'model');
    writeChainedModel(path.join(repo, 'models/lens-ulb'), path.join(repo, 'models/lens-fpr'), chained);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('rescores the first stage candidates by the manifest rule, renumbered, and reports at the final operating point', () => {
    const first = detect(dicom, path.join(repo, 'models/lens-ulb'), rule.candidateScoreThreshold, path.join(tmp, 'first'));
    const all = detect(dicom, chained, 0, path.join(tmp, 'all'));
    expect(all.model.version).toContain(`lens-fpr-${manifest.version}`);
    expect(all.timingsMs.classifier).toBeGreaterThanOrEqual(0);
    expect(all.lesions.length).toBe(Math.min(first.lesions.length, rule.maxCandidates));
    all.lesions.forEach((l, i) => {
      expect(l.id).toBe(i + 1);
      if (i > 0) expect(l.score).toBeLessThanOrEqual(all.lesions[i - 1].score);
      const det = l.heads!.detector, p = l.heads!.classifier;
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(l.score).toBeCloseTo(rule.combine === 'classifier' ? p : Math.sqrt(det * p), 3);
      // Every second-stage finding is a first-stage candidate with the same box and score.
      expect(first.lesions.some((c) => Math.abs(c.score - det) < 1e-6 && JSON.stringify(c.bboxLPS) === JSON.stringify(l.bboxLPS))).toBe(true);
    });
    expect(new Set(all.lesions.map((l) => l.trackingUid)).size).toBe(all.lesions.length);
    // At the manifest's operating point: exactly the ranked candidates that reach it.
    const reported = detect(dicom, chained, rule.finalScoreThreshold, path.join(tmp, 'reported'));
    expect(reported.lesions.map((l) => l.bboxLPS)).toEqual(all.lesions.filter((l) => l.score >= rule.finalScoreThreshold).map((l) => l.bboxLPS));
  });
});
