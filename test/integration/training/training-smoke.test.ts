/**
 * The Python training end to end on toy data (models/training/tests/toy_study.py), with Debian's /usr/bin/python3:
 * a few iterations of train.py, its ONNX export and manifest, which the runtime then parses and runs (`lens detect
 * --model` as a child process: onnxruntime-node's tensors do not cross jest's sandboxed typed arrays). Also checks
 * the training record (git commit, data set hashes as models/training/provenance.py documents them) and that the
 * time limit aborts instead of exporting whatever was reached, that a proposal classifier trained on crops of a
 * non-default spec runs chained behind the detector, and runs the Python unit tests of the training pieces
 * (models/training/tests/test_*.py).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeChainedModel } from '../../../scripts/chain-models';
import { ClassifierDataWriter } from '../../../src/detect/classifier-data-writer';
import type { Findings } from '../../../src/detect/findings';
import { readManifest } from '../../../src/detect/load-manifest';
import { readProposalManifest } from '../../../src/detect/proposal-classifier';
import { parseCropSpec } from '../../../src/detect/proposal-crops';
import { voxelToLPS } from '../../../src/dicom/volume';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { writeStudyRaw } from '../../../src/synth/write-raw';

const repo = path.resolve(__dirname, '../../..');
const PYTHON = '/usr/bin/python3'; // Debian's, with torch (scripts/setup.sh); the python3 on PATH may lack it
const training = path.join(repo, 'models/training');

let dir: string;
const python = (args: string[]) => execFileSync(PYTHON, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const trainArgs = (out: string) => [
  path.join(training, 'train.py'), '--train', path.join(dir, 'train'), '--val', path.join(dir, 'val'), '--seed', '1',
  '--iters', '4', '--batch', '2', '--crop', '64', '--val-every', '2', '--log-every', '2', '--threads', '1',
  '--version', '0.0.0-smoke', '--out', path.join(dir, out), '--runs', path.join(dir, `${out}-runs`), '--cache', path.join(dir, 'cache'),
];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-train-smoke-'));
  python([path.join(training, 'tests/toy_study.py'), path.join(dir, 'train'), '2', '1']);
  python([path.join(training, 'tests/toy_study.py'), path.join(dir, 'val'), '1', '2']);
  python(trainArgs('model'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The documented data set hash, computed independently of provenance.py. */
function datasetHash(root: string): string {
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const lines = fs
    .readdirSync(root)
    .sort()
    .flatMap((study) => ['volume.i16', 'volume.json', 'truth.json'].map((f) => `${study}/${f} ${sha(fs.readFileSync(path.join(root, study, f)))}\n`));
  return sha(lines.join(''));
}

describe('Python training smoke (toy data)', () => {
  it('exports a manifest the runtime accepts, recording iterations, git commit and data set hashes', () => {
    const { manifest } = readManifest(path.join(dir, 'model'));
    expect(manifest.version).toBe('0.0.0-smoke');
    const t = manifest.training as Record<string, any>;
    expect(t.run.iters).toBe(4);
    expect(t.bestIteration).toBeGreaterThanOrEqual(2);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    expect(t.git).toEqual({ commit: head, dirty: expect.any(Boolean) });
    expect(t.dataSets).toEqual([
      expect.objectContaining({ role: 'train', studies: 2, sha256: datasetHash(path.join(dir, 'train')) }),
      expect.objectContaining({ role: 'validation', studies: 1, sha256: datasetHash(path.join(dir, 'val')) }),
    ]);
  });

  it('runs in the TypeScript runtime (lens detect --model)', () => {
    const study = generateStudy(62001, { size: 64, slices: 24, lesions: [1, 1] });
    writeStudyDicom(study, path.join(dir, 'dicom'));
    const out = path.join(dir, 'detect');
    const args = [path.join(repo, 'bin/lens.js'), 'detect', path.join(dir, 'dicom'), '--model', path.join(dir, 'model'), '--out', out, '--no-report', '--threads', '1'];
    execFileSync(process.execPath, args, { cwd: repo, env: { ...process.env, LENS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const findings = JSON.parse(fs.readFileSync(path.join(out, 'findings.json'), 'utf8')) as Findings;
    expect(findings.model).toEqual(expect.objectContaining({ name: 'lens-ulb', version: '0.0.0-smoke' }));
    expect(findings.seriesInstanceUID).toBe(study.volume.seriesInstanceUID);
    expect(Array.isArray(findings.lesions)).toBe(true);
  });

  it('trains a LENS model (one head per dataset) that the runtime reads and fuses', () => {
    // Two tiny phantom sets: deeplesion-like (key-slice labels of some lesions) and luna-like (lung nodules in 3D).
    for (const [name, seed] of [['dl', 63001], ['luna', 63002], ['lval', 63003]] as const) {
      const study = generateStudy(seed, { size: 64, slices: 24, lesions: [3, 3] });
      writeStudyRaw(study, path.join(dir, name, `s-${seed}`));
    }
    const out = path.join(dir, 'lens');
    python([
      path.join(training, 'train_lens.py'), '--set', `deeplesion=${path.join(dir, 'dl')}`, '--set', `luna=${path.join(dir, 'luna')}`,
      '--val', path.join(dir, 'lval'), '--iters', '2', '--val-every', '2', '--batch', '2', '--crop', '64', '--widths', '8,8,8,8,8', '--neck', '8',
      '--out', out, '--runs', path.join(dir, 'lens-runs'), '--cache', path.join(dir, 'cache'), '--version', '0.0.0-lens',
    ]);
    const { manifest } = readManifest(out);
    expect(manifest.output.heads.map((h) => [h.name, h.classes])).toEqual([
      ['deeplesion', ['lung_nodule', 'liver_lesion', 'kidney_cyst', 'lymph_node', 'bone_lesion', 'soft_tissue']],
      ['luna', ['lung_nodule']],
    ]);
    const t = manifest.training as Record<string, any>;
    expect(t.datasets.deeplesion.studies).toBe(1);
    expect(t.datasets.luna.studies).toBe(1);
    const study = generateStudy(63004, { size: 64, slices: 24, lesions: [2, 2] });
    writeStudyDicom(study, path.join(dir, 'lens-dicom'));
    const found = path.join(dir, 'lens-detect');
    const args = [path.join(repo, 'bin/lens.js'), 'detect', path.join(dir, 'lens-dicom'), '--model', out, '--out', found, '--no-report', '--threads', '1', '--threshold', '0.0001'];
    execFileSync(process.execPath, args, { cwd: repo, env: { ...process.env, LENS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const findings = JSON.parse(fs.readFileSync(path.join(found, 'findings.json'), 'utf8')) as Findings;
    expect(findings.model).toEqual(expect.objectContaining({ version: '0.0.0-lens' }));
    // The untrained heads fire everywhere at this threshold: both heads' proposals reach the fused findings.
    const heads = new Set(findings.lesions.flatMap((l) => Object.keys(l.heads ?? {})));
    expect([...heads].sort()).toEqual(['deeplesion', 'luna']);
  });

  it('trains a proposal classifier on crops of another spec, which the runtime cuts again when it chains it', () => {
    // Training data as `lens model classifier-set --crop-spec` writes it: crops of z64.json around boxes of a phantom.
    const spec = parseCropSpec(JSON.parse(fs.readFileSync(path.join(training, 'crop-specs/z64.json'), 'utf8')), 'z64.json');
    const study = generateStudy(64001, { size: 64, slices: 24, lesions: [2, 2] });
    const v = study.volume;
    for (const part of ['train', 'val']) {
      const w = new ClassifierDataWriter(path.join(dir, 'cls', part), spec);
      for (let i = 0; i < 8; i++) {
        const c = voxelToLPS(v, 20 + 3 * i, 30, 12), r = 4 + i;
        w.add(v, [c[0] - r, c[1] - r, c[2] - r, c[0] + r, c[1] + r, c[2] + r], 0.2 + i / 20, i % 2 === 0 ? 1 : 0, { candidate: i });
      }
      w.close();
    }
    python([
      path.join(training, 'train_classifier.py'), '--train', path.join(dir, 'cls/train'), '--val', path.join(dir, 'cls/val'),
      '--epochs', '1', '--iters-per-epoch', '2', '--batch', '4', '--width', '4', '--out', path.join(dir, 'cls-run'),
    ]);
    const classifier = path.join(dir, 'cls-model');
    python([path.join(training, 'export_classifier.py'), '--checkpoint', path.join(dir, 'cls-run/best.pt'), '--out', classifier, '--version', '0.0.0-z64']);
    expect(readProposalManifest(classifier).spec).toEqual(spec);
    // Chained behind the shipped detector: every reported finding carries the classifier's probability.
    const chained = path.join(dir, 'chained');
    writeChainedModel(path.join(repo, 'models/lens-ulb'), classifier, chained);
    writeStudyDicom(study, path.join(dir, 'cls-dicom'));
    const found = path.join(dir, 'cls-detect');
    const args = [path.join(repo, 'bin/lens.js'), 'detect', path.join(dir, 'cls-dicom'), '--model', chained, '--out', found, '--no-report', '--threads', '1', '--threshold', '0'];
    execFileSync(process.execPath, args, { cwd: repo, env: { ...process.env, LENS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const findings = JSON.parse(fs.readFileSync(path.join(found, 'findings.json'), 'utf8')) as Findings;
    expect(findings.model.version).toContain('lens-fpr-0.0.0-z64');
    expect(findings.lesions.length).toBeGreaterThan(0);
    for (const l of findings.lesions) expect(l.heads!.classifier).toBeGreaterThanOrEqual(0);
  });

  it('passes the Python unit tests of the stage-5, LENS and proposal classifier pieces (ignore regions, domain randomisation, ONNX recovery, label scopes, mining, batches, pooled sets, ensembles)', () => {
    const r = spawnSync(PYTHON, ['-m', 'unittest', 'tests/test_stage5.py', 'tests/test_lens.py', 'tests/test_train_classifier.py'], { cwd: training, encoding: 'utf8' });
    expect(r.stderr).toMatch(/Ran [1-9]\d* tests/);
    expect(r.status).toBe(0);
  });

  it('aborts with an error, exporting nothing, when --max-minutes is exceeded', () => {
    const r = spawnSync(PYTHON, [...trainArgs('late'), '--max-minutes', '0.00001'], { cwd: repo, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('--max-minutes');
    expect(fs.existsSync(path.join(dir, 'late', 'model.onnx'))).toBe(false);
  });
});
