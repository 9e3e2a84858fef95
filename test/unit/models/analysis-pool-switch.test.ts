/**
 * A model switch of the analysis pool with real analysis processes (the real model loaded) and a PACS that accepts
 * connections and never answers, so that a job stays in its first stage while the switch happens: the running job
 * keeps its process and ends with its own outcome (no death, no abandon), that process ends afterwards, the next
 * job goes to a process of the new model; a model that cannot load leaves the pool as it was.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import type { JobRunContext } from '../../../src/jobs/worker';
import { AnalysisPool } from '../../../src/worker/analysis-pool';
import { shippedModelCopy } from '../../helpers/model-folders';

const REPO = path.resolve(__dirname, '../../..');
const shipped = path.join(REPO, 'models/lens-ulb');
let tmp: string;
let pacs: net.Server;
const sockets = new Set<net.Socket>();
let pool: AnalysisPool | undefined;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pool-switch-'));
  pacs = net.createServer((s) => (sockets.add(s), s.on('error', () => undefined)));
  await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await pool?.stop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => pacs.close(r));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const modelFolder = (version: string, onnx?: string): string => shippedModelCopy(path.join(tmp, version), version, onnx);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a running job finishes in the old process; the next one runs on the new model; a broken model changes nothing', async () => {
  const config = configSchema.parse({
    pacs: { dicomwebUrl: `http://127.0.0.1:${(pacs.address() as net.AddressInfo).port}/dicom-web`, timeoutMs: 600000, retries: 0 },
    model: { dir: shipped, threads: 1 },
  });
  pool = await AnalysisPool.start(1, { config, modelDir: shipped, memoryMb: 512, stallMs: 60000, findSucceeded: async () => undefined });
  const base = pool.model.manifest.version;
  const [oldPid] = pool.pids as number[];
  let entered!: () => void;
  const inSelect = new Promise<void>((r) => (entered = r));
  const ctx: JobRunContext = { journal: async () => undefined, enterStage: async (s) => void (s === 'selected' && entered()), checkLease: () => undefined };
  const running = pool.run({ id: 1, studyInstanceUID: '1.2.3', force: false, receivedAt: Date.now() }, ctx);
  await inSelect;

  await expect(pool.switchModel(modelFolder(`${base}-next`))).resolves.toMatchObject({ manifest: { version: `${base}-next` } });
  expect(pool.model.manifest.version).toBe(`${base}-next`);
  const [newPid] = pool.pids as number[];
  expect(newPid).not.toBe(oldPid);
  expect(alive(oldPid)).toBe(true);

  // The PACS fails the running job's request: its outcome comes from the old process, which then ends.
  for (const s of sockets) s.destroy();
  const outcome = await running;
  expect(outcome).toMatchObject({ kind: 'failed', reason: 'pacs-connection-lost' });
  expect(outcome).not.toHaveProperty('died');
  for (let i = 0; i < 100 && alive(oldPid); i++) await new Promise((r) => setTimeout(r, 50));
  expect(alive(oldPid)).toBe(false);

  // The next job goes to the new model's process (the PACS now refuses connections: it fails at once).
  pacs.close();
  const next = await pool.run({ id: 2, studyInstanceUID: '1.2.4', force: false, receivedAt: Date.now() }, { ...ctx, enterStage: async () => undefined });
  expect(next).toMatchObject({ kind: 'failed', reason: 'pacs-unreachable' });
  expect(next).not.toHaveProperty('died');
  expect(pool.pids).toEqual([newPid]);

  await expect(pool.switchModel(modelFolder(`${base}-broken`, 'not an onnx graph'))).rejects.toThrow(/could not load the model/);
  expect(pool.model.manifest.version).toBe(`${base}-next`);
  expect(pool.pids).toEqual([newPid]);
  expect(alive(newPid)).toBe(true);
}, 120000);
