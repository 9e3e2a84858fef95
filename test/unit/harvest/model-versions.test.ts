/**
 * Promotion and rollback against the job keys (src/pipeline/idempotency.ts): the service analyses with the
 * registry's current model (currentModelDir, what the analysis process loads), and a job's key names the model
 * version. A promotion changes no stored job and enqueues nothing; a study re-sent after it is analysed by the new
 * model under a key of its own; after a rollback the studies the restored model analysed are skipped again, so
 * nothing is re-analysed by accident. The real SQLite store, a real folder study and the real select stage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { selectSeries } from '../../../src/dicom/select-series';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { currentModelDir, modelRef, ModelRegistry } from '../../../src/models/registry';
import { selectStage } from '../../../src/pipeline/select-stage';
import { FolderStudySource } from '../../../src/source/folder-source';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { shippedModelCopy } from '../../helpers/model-folders';

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-model-versions-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The shipped manifest under another version, with ONNX bytes of its own (only hashed here). */
const modelFolder = (name: string, version: string, bytes: string): string => shippedModelCopy(path.join(tmp, name), version, bytes);

test('a promotion analyses re-sent studies with the new model under its own key; after a rollback the restored model skips what it analysed', async () => {
  const base = modelFolder('base', '1.0.0', 'weights of 1.0.0');
  const next = modelFolder('next', '1.1.0-harvest', 'weights of 1.1.0');
  const cfg = loadConfig({ env: { LENS__MODEL__DIR: base, LENS__HARVEST__REGISTRYDIR: path.join(tmp, 'registry') } });
  const registry = ModelRegistry.of(cfg);
  const study = generateStudy(62011, { size: 64, slices: 24, lesions: [1, 1] });
  writeStudyDicom(study, path.join(tmp, 'study'));
  const source = new FolderStudySource(path.join(tmp, 'study'));
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const studyInstanceUID = study.truth.studyInstanceUID;
  // What the service does per event: the model it loaded names the version of the key.
  const select = () =>
    selectStage({
      modelVersion: modelRef(currentModelDir(cfg)).version,
      rules: cfg.selection,
      source,
      selectSeries: (s, r) => selectSeries(s, r),
      findSucceeded: (k) => store.findSucceeded(k),
      succeededForStudy: (uid) => store.list({ kind: 'study-analysis', state: 'succeeded' }).then((js) => js.filter((j) => j.studyInstanceUID === uid)),
    }).run({ studyInstanceUID, force: false });
  const analyse = async () => {
    const selected = await select();
    await store.enqueue({ studyInstanceUID, source: 'manual' });
    const job = (await store.claim('worker', 60000))!;
    await store.complete(job.id, 'worker', {
      kind: 'succeeded', outputs: { srSeriesUID: `sr of ${selected.modelVersion}` }, lesions: [], timingsMs: {},
      idempotencyKey: selected.idempotencyKey, seriesInstanceUID: selected.series.seriesInstanceUID, modelVersion: selected.modelVersion,
    });
    return selected;
  };

  const first = await analyse();
  expect(first.modelVersion).toBe('lens-ulb-1.0.0');
  await expect(select()).rejects.toMatchObject({ reason: 'already-analysed' });

  registry.promote(modelRef(next), { current: 'lens-ulb-1.0.0', message: 'test' });
  expect(await store.countByState()).toEqual(expect.objectContaining({ queued: 0, succeeded: 1 }));
  const second = await analyse();
  expect(second.modelVersion).toBe('lens-ulb-1.1.0-harvest');
  expect(second.idempotencyKey).not.toBe(first.idempotencyKey);
  expect((await store.findSucceeded(first.idempotencyKey))?.modelVersion).toBe('lens-ulb-1.0.0');
  await expect(select()).rejects.toMatchObject({ reason: 'already-analysed' });

  expect(registry.rollback()).toEqual({ from: 'lens-ulb-1.1.0-harvest', to: 'lens-ulb-1.0.0' });
  await expect(select()).rejects.toMatchObject({ reason: 'already-analysed' });
  expect(await store.countByState()).toEqual(expect.objectContaining({ queued: 0, succeeded: 2 }));
  await store.close();
});

test('the registry keeps a stack: two promotions, two rollbacks, then back on the base model', () => {
  const cfg = loadConfig({ env: { LENS__MODEL__DIR: modelFolder('b2', '2.0.0', 'b'), LENS__HARVEST__REGISTRYDIR: path.join(tmp, 'registry2') } });
  const registry = ModelRegistry.of(cfg);
  const a = modelRef(modelFolder('a2', '2.1.0', 'a'));
  const c = modelRef(modelFolder('c2', '2.2.0', 'c'));
  registry.promote(a, { current: 'lens-ulb-2.0.0', message: 'a' });
  registry.promote(c, { current: 'lens-ulb-2.1.0', message: 'c' });
  expect(registry.current().version).toBe('lens-ulb-2.2.0');
  // Other weights under a version the registry holds are refused; the same weights again are "already current".
  expect(registry.conflict({ ...a, onnxSha256: c.onnxSha256 })).toMatch(/promoted before with other weights/);
  expect(registry.conflict(c)).toMatch(/already the current model/);
  expect(registry.rollback().to).toBe('lens-ulb-2.1.0');
  expect(registry.rollback().to).toBe('lens-ulb-2.0.0');
  expect(currentModelDir(cfg)).toBe(path.resolve(cfg.model.dir));
  expect(() => registry.rollback()).toThrow(/nothing to roll back/);
});
