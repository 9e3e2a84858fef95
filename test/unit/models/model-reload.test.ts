/**
 * The reload's decisions (src/worker/model-reload.ts) over a real registry folder: when the running service
 * switches its analysis pool, what a failed load leaves (the loaded model, an error in the status and the log, no
 * retry storm), and the select stage's rule that a study analysed by an earlier model and re-announced with its
 * report is not analysed again by the new one. The pool here loads only the manifest: the real pool with real
 * analysis processes is test/integration/models/model-reload.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { selectionSchema } from '../../../src/config/schema';
import { readManifest } from '../../../src/detect/load-manifest';
import type { InstanceHeader } from '../../../src/dicom/instance-header';
import type { Job } from '../../../src/jobs/types';
import { log } from '../../../src/log';
import { modelRef, ModelRegistry } from '../../../src/models/registry';
import { SkipStudy } from '../../../src/pipeline/errors';
import { selectStage, type SelectDeps } from '../../../src/pipeline/select-stage';
import { describeModel, ModelReloader, RETRY_FAILED_MS, type SwitchablePool } from '../../../src/worker/model-reload';
import type { LoadedModel } from '../../../src/worker/protocol';
import { shippedModelCopy } from '../../helpers/model-folders';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-model-reload-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The shipped manifest under another version, with ONNX bytes of its own (only hashed here). */
const modelFolder = (name: string, version: string, bytes: string): string => shippedModelCopy(path.join(tmp, name), version, bytes);

/** Loads a folder's manifest, refusing the ones whose ONNX bytes say "corrupt" as onnxruntime would refuse them. */
class ManifestPool implements SwitchablePool {
  model: LoadedModel;
  readonly switches: string[] = [];
  constructor(dir: string) {
    this.model = ManifestPool.load(dir);
  }
  static load(dir: string): LoadedModel {
    const { manifest, onnxPath } = readManifest(dir);
    if (fs.readFileSync(onnxPath, 'utf8').includes('corrupt')) throw new Error(`the analysis process could not load the model: protobuf parsing failed (${onnxPath})`);
    return { manifest: { name: manifest.name, version: manifest.version }, executionProvider: 'cpu' };
  }
  async switchModel(dir: string): Promise<LoadedModel> {
    this.switches.push(dir);
    this.model = ManifestPool.load(dir);
    return this.model;
  }
}

test('a promotion switches the pool once; a broken model leaves the loaded one, reported and not retried at every check; a rollback clears the error', async () => {
  const base = modelFolder('base', '1.0.0', 'weights 1');
  const cfg = loadConfig({ env: { LENS__MODEL__DIR: base, LENS__HARVEST__REGISTRYDIR: path.join(tmp, 'registry') } });
  const registry = ModelRegistry.of(cfg);
  const pool = new ManifestPool(base);
  let now = 1000;
  const reloader = new ModelReloader({ registry, pool, loaded: registry.pointer(), everyMs: 1000, now: () => now });
  const errors = jest.spyOn(log, 'error').mockImplementation(() => log);
  try {
    await reloader.check();
    expect(pool.switches).toEqual([]);
    expect(reloader.status()).toEqual({ version: 'lens-ulb-1.0.0', since: 1000 });

    registry.promote(modelRef(modelFolder('next', '1.1.0', 'weights 2')), { current: 'lens-ulb-1.0.0', message: 'test' });
    now = 2000;
    await reloader.check();
    await reloader.check();
    expect(pool.switches).toEqual([path.join(tmp, 'registry', 'lens-ulb-1.1.0')]);
    expect(reloader.status()).toEqual({ version: 'lens-ulb-1.1.0', since: 2000 });

    registry.promote(modelRef(modelFolder('broken', '1.2.0', 'corrupt')), { current: 'lens-ulb-1.1.0', message: 'test' });
    await reloader.check();
    await reloader.check();
    expect(pool.switches).toHaveLength(2);
    const status = reloader.status();
    expect(status).toEqual({ version: 'lens-ulb-1.1.0', since: 2000, error: { target: 'lens-ulb-1.2.0', message: expect.stringContaining('protobuf parsing failed'), at: 2000 } });
    expect(errors).toHaveBeenCalledTimes(1);
    expect(errors.mock.calls[0]).toEqual(['model switch failed: the loaded model stays in use', expect.objectContaining({ target: 'lens-ulb-1.2.0', keeping: 'lens-ulb-1.1.0' })]);
    const detail = describeModel(pool.model, ['cpu', 'cpu'], status);
    expect(detail).toMatch(/^lens-ulb 1\.1\.0 \(cpu; workers on cpu, cpu\); the registry's current model lens-ulb-1\.2\.0 is not loaded: .*protobuf parsing failed/);
    // Tried again after a while: each failure is logged.
    now += RETRY_FAILED_MS;
    await reloader.check();
    expect(pool.switches).toHaveLength(3);
    expect(errors).toHaveBeenCalledTimes(2);

    // The registry file gone (an unmounted share) is not a return to the base model.
    const file = path.join(tmp, 'registry', 'registry.json');
    fs.renameSync(file, `${file}.away`);
    await reloader.check();
    expect(pool.switches).toHaveLength(3);
    expect(reloader.status().error).toEqual(expect.objectContaining({ target: 'registry', message: expect.stringContaining('is gone') }));
    expect(errors).toHaveBeenCalledTimes(3);
    fs.renameSync(`${file}.away`, file);

    // Back to the loaded model: nothing to load, the error is gone.
    expect(registry.rollback()).toEqual({ from: 'lens-ulb-1.2.0', to: 'lens-ulb-1.1.0' });
    await reloader.check();
    expect(pool.switches).toHaveLength(3);
    expect(reloader.status().error).toBeUndefined();
    expect(describeModel(pool.model, ['cpu'], reloader.status())).toBe('lens-ulb 1.1.0 (cpu; workers on cpu)');

    // Rollback to the base model (config model.dir): switched to its folder.
    registry.rollback();
    await reloader.check();
    expect(pool.switches.at(-1)).toBe(path.resolve(base));
    expect(reloader.status().version).toBe('lens-ulb-1.0.0');

    // An unreadable registry keeps the model, logged once however many checks see it.
    fs.writeFileSync(path.join(tmp, 'registry', 'registry.json'), '{ half written');
    await reloader.check();
    await reloader.check();
    expect(reloader.status()).toEqual(expect.objectContaining({ version: 'lens-ulb-1.0.0', error: expect.objectContaining({ target: 'registry', message: expect.stringMatching(/unreadable/) }) }));
    expect(errors).toHaveBeenCalledTimes(4);
    expect(pool.switches).toHaveLength(4);
  } finally {
    errors.mockRestore();
  }
});

test('the periodic check runs only with a positive interval and stops cleanly', async () => {
  const base = modelFolder('timer', '3.0.0', 'weights 3');
  const cfg = loadConfig({ env: { LENS__MODEL__DIR: base, LENS__HARVEST__REGISTRYDIR: path.join(tmp, 'registry-timer') } });
  const registry = ModelRegistry.of(cfg);
  const pool = new ManifestPool(base);
  registry.promote(modelRef(modelFolder('timer-next', '3.1.0', 'weights 4')), { current: 'lens-ulb-3.0.0', message: 'test' });
  const off = new ModelReloader({ registry, pool, loaded: { key: `base ${path.resolve(base)}`, dir: base }, everyMs: 0 });
  off.start();
  const on = new ModelReloader({ registry, pool, loaded: { key: `base ${path.resolve(base)}`, dir: base }, everyMs: 50 });
  on.start();
  for (let i = 0; i < 100 && pool.switches.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await on.stop();
  await off.stop();
  expect(pool.switches).toEqual([path.join(tmp, 'registry-timer', 'lens-ulb-3.1.0')]);
});

describe('select stage after a switch', () => {
  const ct = (uid: string, n: number) => ({
    studyInstanceUID: '1.9', seriesInstanceUID: uid, modality: 'CT',
    instances: Array.from({ length: n }, (_, i) => ({ sopInstanceUID: `${uid}.${i + 1}` }) as InstanceHeader),
  });
  /** The study as the PACS lists it: its CT (`instances` of them) and, when `report`, the SR and SEG of job 5. */
  const deps = (o: { report: boolean; instances?: number; history: Job[] }): SelectDeps => ({
    modelVersion: 'lens-ulb-1.1.0',
    rules: selectionSchema.parse({}),
    source: {
      listSeries: async () => [
        { seriesInstanceUID: '1.9.1', modality: 'CT' },
        ...(o.report ? [{ seriesInstanceUID: 'sr5', modality: 'SR', manufacturer: 'lens-pacs' }, { seriesInstanceUID: 'seg5', modality: 'SEG', manufacturer: 'lens-pacs' }] : []),
      ],
      seriesMetadata: async (_s, uid) => ({ series: ct(uid, o.instances ?? 40), unreadable: [], dataset: async () => ({}) }),
    },
    selectSeries: (series) => ({ selected: series[0], why: 'only one', rejected: [] }),
    findSucceeded: async () => undefined,
    succeededForStudy: async () => o.history,
  });
  const run = (d: SelectDeps, force = false) => selectStage(d).run({ studyInstanceUID: '1.9', force });
  /** Job 5: the same CT analysed by the model loaded before the switch. */
  async function earlier(): Promise<Job> {
    const key = (await run(deps({ report: false, history: [] }))).idempotencyKey.replace(/\|lens-ulb-1\.1\.0$/, '|lens-ulb-1.0.0');
    return { id: 5, idempotencyKey: key, modelVersion: 'lens-ulb-1.0.0', outputs: { srSeriesUID: 'sr5', segSeriesUID: 'seg5' } } as Job;
  }

  test('a study re-announced with the earlier model\'s report is skipped as own-output, naming both models', async () => {
    const history = [await earlier()];
    const skip = await run(deps({ report: true, history })).catch((e: unknown) => e);
    expect(skip).toBeInstanceOf(SkipStudy);
    expect(skip).toMatchObject({ reason: 'own-output' });
    expect((skip as Error).message).toBe(
      'already analysed by lens-ulb-1.0.0 (job 5): series 1.9.1, same 40 instances, its report in the study; the loaded model lens-ulb-1.1.0 analyses new and changed studies (a re-run analyses this one again)',
    );
  });

  test('a changed CT, a study without that report, and a re-run are analysed by the loaded model', async () => {
    const history = [await earlier()];
    expect((await run(deps({ report: true, instances: 41, history }))).modelVersion).toBe('lens-ulb-1.1.0');
    expect((await run(deps({ report: false, history }))).modelVersion).toBe('lens-ulb-1.1.0');
    const forced = await run(deps({ report: true, history }), true);
    expect(forced.idempotencyKey).toMatch(/\|lens-ulb-1\.1\.0$/);
  });
});
