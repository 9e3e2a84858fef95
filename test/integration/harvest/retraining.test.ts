/**
 * The harvest's loop back to a better model, end to end on a tiny archive: `lens harvest --folder` over one synthetic
 * study with a reader's partial labels; the dataset written as a training set (raw volume, positives, hard negatives,
 * uncertain); a few iterations of models/training/train_harvest.py (Debian's /usr/bin/python3 with torch) with the
 * hard-negative suppression loss, exported as a candidate; the promotion gate (`lens model promote`, a child
 * process: onnxruntime-node's tensors do not cross jest's sandbox) refusing that barely trained candidate against the
 * shipped model on a labeled validation study, promoting an equal one, refusing a version already taken by other
 * weights, and the rollback.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../../src/config/load';
import { readManifest } from '../../../src/detect/load-manifest';
import { CROP_SPEC_FILE, cropLength, DEFAULT_CROP_SPEC, FEATURE_COUNT, parseCropSpec } from '../../../src/detect/proposal-crops';
import { FolderArchive } from '../../../src/harvest/archives';
import { HarvestDataset, type HarvestRecord } from '../../../src/harvest/dataset';
import { writeSyntheticArchive } from '../../../src/harvest/synthetic-archive';
import { exportClassifierSet } from '../../../src/harvest/classifier-set';
import { exportTrainingSet, type TrainingTruth } from '../../../src/harvest/training-set';
import { currentModelDir, ModelRegistry, type RegistryFile } from '../../../src/models/registry';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { writeTruth } from '../../../src/synth/write-raw';

const repo = path.resolve(__dirname, '../../..');
const PYTHON = '/usr/bin/python3'; // Debian's, with torch (scripts/setup.sh)
const shipped = path.join(repo, 'models/lens-ulb');
const tiny = { size: 128, slices: 20, thickness: 5, lesions: [3, 4] as [number, number] };
let tmp: string;
let record: HarvestRecord;

const env = () => ({ ...process.env, LENS__MODEL__THREADS: '1', LENS__HARVEST__REGISTRYDIR: path.join(tmp, 'registry'), LENS_LOG_LEVEL: 'warn' });
const lens = (args: string[]) =>
  promisify(execFile)(process.execPath, [path.join(repo, 'bin/lens.js'), ...args], { cwd: repo, env: env(), maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
const registryFile = (): RegistryFile => JSON.parse(fs.readFileSync(path.join(tmp, 'registry', 'registry.json'), 'utf8'));
const config = () => loadConfig({ env: env() });
const source = () => new FolderArchive(path.join(tmp, 'archive')).source;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-retrain-'));
  // One study, not completely annotated: the reader's SR holds some lesions; the default thresholds apply.
  writeSyntheticArchive(path.join(tmp, 'archive'), { seed: 13, studies: 1, completeEvery: 0, synth: tiny });
  const val = generateStudy(9601000, tiny);
  writeStudyDicom(val, path.join(tmp, 'validation', val.name, 'dicom'));
  writeTruth(val, path.join(tmp, 'validation', val.name));
  const r = await lens(['harvest', '--folder', path.join(tmp, 'archive'), '--out', path.join(tmp, 'harvest')]);
  expect(r.code).toBe(0);
  [record] = new HarvestDataset(path.join(tmp, 'harvest')).records();
}, 120000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the harvest dataset becomes a training set: raw volume, labels and harvested lesions, hard negatives; a second export rewrites nothing', async () => {
  // The tiny archive exercises every list (this seed's study has all of them with the default thresholds).
  expect(record.existingLabels.length).toBeGreaterThan(0);
  expect(record.harvested.length).toBeGreaterThan(0);
  expect(record.hardNegatives.length).toBeGreaterThan(0);
  const out = path.join(tmp, 'set');
  const dataset = new HarvestDataset(path.join(tmp, 'harvest'));
  const counts = await exportTrainingSet(dataset, out, config().selection, source);
  expect(counts).toEqual(expect.objectContaining({ studies: 1, written: 1, unchanged: 0 }));
  const dir = path.join(out, record.studyInstanceUID);
  const truth = JSON.parse(fs.readFileSync(path.join(dir, 'truth.json'), 'utf8')) as TrainingTruth;
  const s = truth.studies[0];
  expect(s.seriesInstanceUIDs).toEqual([record.sourceSeries!.seriesInstanceUID]);
  expect(s.lesions.filter((l) => l.harvest === 'label')).toHaveLength(record.existingLabels.filter((l) => l.bboxLPS).length);
  expect(s.lesions.filter((l) => l.harvest === 'harvested').map((l) => l.bboxLPS)).toEqual(record.harvested.map((c) => c.bboxLPS));
  expect(s.hardNegatives.map((l) => l.bboxLPS)).toEqual(record.hardNegatives.map((c) => c.bboxLPS));
  expect(s.uncertain).toHaveLength(record.uncertain.length);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'volume.json'), 'utf8')) as { dims: number[]; seriesInstanceUID: string };
  expect(meta.dims).toEqual([tiny.size, tiny.size, record.sourceSeries!.slices]);
  expect(fs.statSync(path.join(dir, 'volume.i16')).size).toBe(2 * tiny.size * tiny.size * record.sourceSeries!.slices);
  const before = fs.statSync(path.join(dir, 'volume.i16')).mtimeMs;
  expect(await exportTrainingSet(dataset, out, config().selection, source)).toEqual(expect.objectContaining({ written: 0, unchanged: 1 }));
  expect(fs.statSync(path.join(dir, 'volume.i16')).mtimeMs).toBe(before);
});

test('the dataset becomes proposal-classifier data: the readers\' labels and known negatives as the runtime crops them, read from the archive', async () => {
  const out = path.join(tmp, 'classifier-set');
  const r = await lens(['model', 'classifier-set', '--harvest', path.join(tmp, 'harvest'), '--out', out]);
  expect(r.code).toBe(0);
  const known = record.hardNegatives.filter((c) => c.why === 'below-low' || c.why === 'rejected-by-reader');
  expect(record.matched.length).toBeGreaterThan(0);
  expect(r.stdout).toContain(`train 1 studies, ${record.matched.length} lesion candidates, ${known.length} others; calibration (completely annotated) 0 studies`);
  // No completely annotated study: nothing to calibrate on, and the user is told.
  expect(r.stdout).toContain('warning: a part has no lesion candidate');
  const meta = fs.readFileSync(path.join(out, 'train', 'meta.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { label: number; candidate: number });
  expect(meta.map((m) => [m.candidate, m.label])).toEqual([...record.matched.map((c) => [c.id, 1]), ...known.map((c) => [c.id, 0])]);
  expect(fs.statSync(path.join(out, 'train', 'crops.u8')).size).toBe(meta.length * cropLength(DEFAULT_CROP_SPEC));
  expect(fs.statSync(path.join(out, 'train', 'feats.f32')).size).toBe(meta.length * FEATURE_COUNT * 4);
  // Written once: a second export into the same folder would append duplicates.
  await expect(exportClassifierSet(new HarvestDataset(path.join(tmp, 'harvest')), out, config().selection, source)).rejects.toThrow(/exists: a classifier set is written once/);
  expect(fs.readFileSync(path.join(out, 'train', 'meta.jsonl'), 'utf8').trim().split('\n')).toHaveLength(meta.length);
});

test('classifier-set --crop-spec cuts the crops of the spec given and records it; a wrong spec is refused before anything is written', async () => {
  const spec = path.join(repo, 'models/training/crop-specs/z64.json');
  const out = path.join(tmp, 'classifier-set-z64');
  const r = await lens(['model', 'classifier-set', '--harvest', path.join(tmp, 'harvest'), '--out', out, '--crop-spec', spec]);
  expect(r.code).toBe(0);
  const z64 = parseCropSpec(JSON.parse(fs.readFileSync(spec, 'utf8')), spec);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'train', CROP_SPEC_FILE), 'utf8'))).toEqual(z64);
  expect((JSON.parse(fs.readFileSync(path.join(out, 'classifier-set.json'), 'utf8')) as { crop: unknown }).crop).toEqual(z64);
  const n = fs.readFileSync(path.join(out, 'train', 'meta.jsonl'), 'utf8').trim().split('\n').length;
  expect(fs.statSync(path.join(out, 'train', 'crops.u8')).size).toBe(n * cropLength(z64));
  const bad = path.join(tmp, 'bad-spec.json');
  fs.writeFileSync(bad, JSON.stringify({ ...z64, size: [16, 16] }));
  const refused = await lens(['model', 'classifier-set', '--harvest', path.join(tmp, 'harvest'), '--out', path.join(tmp, 'never'), '--crop-spec', bad]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain(`--crop-spec ${bad}: crop spec size must be three positive integers`);
  expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
});

test('train_harvest.py trains with the hard-negative suppression loss and exports a candidate the runtime accepts', () => {
  const log = execFileSync(
    PYTHON,
    [path.join(repo, 'models/training/train_harvest.py'), '--data', path.join(tmp, 'set'), '--version', '0.0.0-harvest-smoke', '--out', path.join(tmp, 'candidate'),
      '--cache', path.join(tmp, 'cache'), '--iters', '4', '--batch', '2', '--crop', '64', '--log-every', '2', '--hn-fraction', '0.5'],
    { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const positives = record.existingLabels.filter((l) => l.bboxLPS).length + record.harvested.length;
  expect(log).toContain(`${positives} positives, ${record.hardNegatives.length} hard negatives`);
  // Half the crops are centred on a hard negative: the suppression term is at work.
  const hardNeg = [...log.matchAll(/hard-neg ([0-9.]+)/g)].map((m) => Number(m[1]));
  expect(hardNeg.length).toBe(2);
  expect(Math.max(...hardNeg)).toBeGreaterThan(0);
  const { manifest } = readManifest(path.join(tmp, 'candidate'));
  expect(manifest.version).toBe('0.0.0-harvest-smoke');
  const t = manifest.training as Record<string, any>;
  expect(t).toEqual(expect.objectContaining({ positives, hardNegatives: record.hardNegatives.length, trainingStudies: 1 }));
  expect(t.dataSets[0]).toEqual(expect.objectContaining({ role: 'train', studies: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }));
  expect(fs.existsSync(t.checkpoint)).toBe(true);
});

test('train_harvest.py --labels-only trains the baseline on the same volumes with the readers\' labels alone', () => {
  const log = execFileSync(
    PYTHON,
    [path.join(repo, 'models/training/train_harvest.py'), '--data', path.join(tmp, 'set'), '--labels-only', '--version', '0.0.0-labels-smoke',
      '--out', path.join(tmp, 'labels-only'), '--cache', path.join(tmp, 'cache'), '--iters', '2', '--batch', '2', '--crop', '64', '--log-every', '2'],
    { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const labels = record.existingLabels.filter((l) => l.bboxLPS).length;
  expect(labels).toBeGreaterThan(0);
  // The harvested lesions are background again and nothing is suppressed: the archive as it was before the harvest.
  expect(log).toContain(`${labels} positives, 0 hard negatives, 0 uncertain`);
  const t = readManifest(path.join(tmp, 'labels-only')).manifest.training as Record<string, any>;
  expect(t).toEqual(expect.objectContaining({ positives: labels, hardNegatives: 0 }));
  expect(t.dataSets[0].labels).toBe('harvest: readers\' labels only');
});

test('the gate refuses the barely trained candidate with both figures; the service keeps loading the current model', async () => {
  const r = await lens(['model', 'promote', path.join(tmp, 'candidate'), '--validation', path.join(tmp, 'validation')]);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^refused lens-ulb-0\.0\.0-harvest-smoke: average sensitivity [0-9.]+ < [0-9.]+ of lens-ulb-/);
  const reg = registryFile();
  expect(reg.current).toBeUndefined();
  const [d] = reg.decisions;
  expect(d).toEqual(expect.objectContaining({ action: 'refused', candidate: 'lens-ulb-0.0.0-harvest-smoke' }));
  expect(d.figures!.current.averageSensitivity).toBeGreaterThan(d.figures!.candidate.averageSensitivity);
  expect(d.figures!.current.lesions).toBeGreaterThan(0);
  expect(currentModelDir(config())).toBe(path.resolve(config().model.dir));
});

test('an equal candidate is promoted and loaded; a version taken by other weights is refused; rollback restores the previous model', async () => {
  // The shipped graph under a new version: as good as the current model, so it passes.
  const copy = path.join(tmp, 'copy');
  fs.mkdirSync(copy);
  const { manifest, manifestPath, onnxPath } = readManifest(shipped);
  const base = `${manifest.name}-${manifest.version}`;
  const version = `${manifest.version}-copy`;
  const raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  if (typeof raw.proposalClassifier === 'string') raw.proposalClassifier = path.resolve(shipped, raw.proposalClassifier);
  fs.copyFileSync(onnxPath, path.join(copy, 'model.onnx'));
  fs.writeFileSync(path.join(copy, 'model.json'), JSON.stringify({ ...raw, version, file: 'model.onnx' }));
  const r = await lens(['model', 'promote', copy, '--validation', path.join(tmp, 'validation')]);
  expect(r.stdout).toMatch(new RegExp(`^promoted lens-ulb-${version.replace(/\./g, '\\.')}: average sensitivity ([0-9.]+) >= \\1 of ${base.replace(/\./g, '\\.')} `));
  expect(r.code).toBe(0);
  const registry = ModelRegistry.of(config());
  expect(registry.read().current?.version).toBe(`lens-ulb-${version}`);
  const loaded = currentModelDir(config());
  expect(loaded).toBe(path.join(tmp, 'registry', `lens-ulb-${version}`));
  expect(readManifest(loaded).manifest.version).toBe(version);
  // `lens detect` without --model runs what the service runs.
  const val = fs.readdirSync(path.join(tmp, 'validation'))[0];
  const det = await lens(['detect', path.join(tmp, 'validation', val, 'dicom'), '--out', path.join(tmp, 'detect-promoted'), '--no-report']);
  expect(det.code).toBe(0);
  const findings = JSON.parse(fs.readFileSync(path.join(tmp, 'detect-promoted', 'findings.json'), 'utf8')) as { model: { version: string } };
  expect(findings.model.version).toBe(version);

  // Other weights under the promoted version would make jobs keyed by it skip studies: refused before measuring.
  const impostor = path.join(tmp, 'impostor');
  fs.mkdirSync(impostor);
  fs.copyFileSync(path.join(tmp, 'candidate', 'model.onnx'), path.join(impostor, 'model.onnx'));
  fs.writeFileSync(path.join(impostor, 'model.json'), JSON.stringify({ ...readManifest(path.join(tmp, 'candidate')).manifest, version }));
  const bad = await lens(['model', 'promote', impostor, '--validation', path.join(tmp, 'validation')]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain(`lens-ulb-${version} is the current model's version but the weights differ`);

  const back = await lens(['model', 'rollback']);
  expect(back.stdout).toContain(`rolled back from lens-ulb-${version} to ${base}\n`);
  expect(currentModelDir(config())).toBe(path.resolve(config().model.dir));
  expect(registryFile().decisions.map((d) => d.action)).toEqual(['refused', 'promoted', 'rolled-back']);
  const again = await lens(['model', 'rollback']);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain('nothing to roll back');
});
