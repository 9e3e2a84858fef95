/**
 * A promotion and a rollback reach a running `lens serve` (child process, two analysis workers) against a real
 * Orthanc, without a restart: the shipped model promoted under a new version is loaded (readiness and the log say
 * so, and the node record), a study sent afterwards is analysed by it (the job's model version, the SR's Software
 * Versions); a broken promoted model (garbage ONNX) leaves the loaded one in use and /readyz, the node record, the
 * dashboard and the log name the failure; the rollbacks switch back
 * to the base model, which analyses the next study, while the study the promoted model analysed, re-announced, is not
 * analysed again. The registry functions are the CLI's (`lens model rollback`: test/integration/harvest/retraining.test.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../../../src/detect/load-manifest';
import type { Job } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { modelRef, ModelRegistry } from '../../../src/models/registry';
import type { NodeView } from '../../../src/server/node-status';
import { api, jobsOf, REPO, type Stack, synthStudy, useServiceStack, waitFor } from '../service/stack';
import { shippedModelCopy } from '../../helpers/model-folders';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-reload-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const shipped = path.join(REPO, 'models/lens-ulb');
const base = readManifest(shipped).manifest;
const suite = useServiceStack({
  push: true,
  stableAge: 1,
  config: { jobs: { concurrency: 2 }, harvest: { registryDir: path.join(tmp, 'registry'), registryCheckSeconds: 0.5 } },
});
let stack: Stack;
beforeAll(() => ({ stack } = suite));

const modelFolder = (version: string, onnx?: string): string => shippedModelCopy(path.join(tmp, version), version, onnx);

const modelCheck = async () => ((await (await fetch(`${stack.serviceUrl}/readyz`)).json()) as { checks: { model: { ok: boolean; detail: string } } }).checks.model;
const loaded = (version: string) => waitFor(async () => (await modelCheck()).detail.startsWith(`lens-ulb ${version} `), 60000, `model ${version} loaded`);
const analysed = (uid: string) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j: Job) => !['queued', 'running', 'failed-retrying'].includes(j.state)), 120000, `analysis of ${uid}`);
/** The stored SR's Software Versions (0018,1020): the version of the model its findings came from. */
const srModelVersion = async (uid: string, series: string) => {
  const [sr] = (await (await fetch(`${stack.orthanc.dicomwebUrl}/studies/${uid}/series/${series}/metadata`)).json()) as Record<string, { Value?: unknown[] }>[];
  return sr['00181020']?.Value?.[0];
};
/** This node's record (GET /api/nodes: what every node sharing the store shows). */
const nodeRecord = async () => (await api<{ nodes: NodeView[] }>(stack, '/api/nodes')).nodes[0];
const logLines = () =>
  suite.service
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('promote, a broken promotion, rollback: each reaches the running service; new studies name the loaded model', async () => {
  const registry = ModelRegistry.of(stack.config);
  await loaded(base.version);
  const promoted = `${base.version}-reload`;
  registry.promote(modelRef(modelFolder(promoted)), { current: `lens-ulb-${base.version}`, message: 'integration test' });
  await loaded(promoted);
  expect(logLines()).toContainEqual(expect.objectContaining({ level: 'info', message: 'model switched: new studies are analysed by the new model', from: `lens-ulb-${base.version}`, to: `lens-ulb-${promoted}` }));
  expect(await nodeRecord()).toMatchObject({ model: `lens-ulb-${promoted}`, devices: ['cpu', 'cpu'] });

  const a = await synthStudy(9411, path.join(stack.dir, 'a'), { size: 64, slices: 24 });
  await storescu([a.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  const jobA = await analysed(a.studyUID);
  expect(jobA).toMatchObject({ state: 'succeeded', modelVersion: `lens-ulb-${promoted}` });
  expect(await srModelVersion(a.studyUID, jobA.outputs!.srSeriesUID!)).toBe(promoted);

  // Garbage weights under a new version: the loaded model stays, /readyz (still ready) and the log say why.
  registry.promote(modelRef(modelFolder(`${base.version}-broken`, 'not an onnx graph')), { current: `lens-ulb-${promoted}`, message: 'integration test' });
  const failed = await waitFor(async () => {
    const m = await modelCheck();
    return m.detail.includes('is not loaded') ? m : undefined;
  }, 60000, 'the failed switch in /readyz');
  expect(failed.ok).toBe(true);
  expect(failed.detail).toMatch(new RegExp(`^lens-ulb ${promoted.replace(/\./g, '\\.')} .*the registry's current model lens-ulb-${base.version.replace(/\./g, '\\.')}-broken is not loaded: the analysis process could not load the model`));
  expect((await fetch(`${stack.serviceUrl}/readyz`)).status).toBe(200);
  expect(logLines()).toContainEqual(expect.objectContaining({ level: 'error', message: 'model switch failed: the loaded model stays in use', target: `lens-ulb-${base.version}-broken`, keeping: `lens-ulb-${promoted}` }));
  expect(await nodeRecord()).toMatchObject({ model: `lens-ulb-${promoted}`, modelError: expect.stringContaining(`lens-ulb-${base.version}-broken is not loaded`) });
  expect(await api<string>(stack, '/dashboard/overview')).toMatch(/<td class="model">lens-ulb-[^<]+ <b title="[^"]*is not loaded[^"]*">switch failed<\/b><\/td>/);

  // Back to the promoted model (the loaded one: the error goes), then to the base model (what `lens model rollback` does).
  registry.rollback();
  await waitFor(async () => !(await modelCheck()).detail.includes('is not loaded'), 30000, 'the error to clear');
  expect(registry.rollback()).toEqual({ from: `lens-ulb-${promoted}`, to: `lens-ulb-${base.version}` });
  await loaded(base.version);
  expect(await nodeRecord()).toMatchObject({ model: `lens-ulb-${base.version}` });
  expect(await nodeRecord()).not.toHaveProperty('modelError');

  const b = await synthStudy(9412, path.join(stack.dir, 'b'), { size: 64, slices: 24 });
  await storescu([b.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  const jobB = await analysed(b.studyUID);
  expect(jobB).toMatchObject({ state: 'succeeded', modelVersion: `lens-ulb-${base.version}` });
  expect(await srModelVersion(b.studyUID, jobB.outputs!.srSeriesUID!)).toBe(base.version);

  // Study A re-announced: analysed by the promoted model, its report in the study; the base model does not redo it.
  const { jobId } = await api<{ jobId: number }>(stack, '/webhook/orthanc', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-lens-secret': stack.secret }, body: JSON.stringify({ studyInstanceUID: a.studyUID }),
  });
  const again = await waitFor(async () => (await jobsOf(stack, a.studyUID)).find((j) => j.id === jobId && j.state !== 'queued' && j.state !== 'running'), 60000, 'the re-announcement');
  expect(again).toMatchObject({ state: 'skipped', reason: 'own-output' });
  expect(again.lastError).toMatch(new RegExp(`^already analysed by lens-ulb-${promoted.replace(/\./g, '\\.')} \\(job ${jobA.id}\\)`));
  expect((await jobsOf(stack, a.studyUID)).filter((j) => j.state === 'succeeded').map((j) => j.id)).toEqual([jobA.id]);
}, 300000);
