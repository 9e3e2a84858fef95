/**
 * The analysis process as the service sees it, with a real child (the real model loaded) and a PACS that accepts
 * connections and never answers, so that a job stays in its first stage for as long as the test needs: a death of
 * the child is the job's outcome with its cause named and the stage it had entered, the child is started again, a
 * lost lease reaches the child and ends the job without an outcome, and the names of every kind of death.
 */
import net from 'node:net';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { LeaseLostError } from '../../../src/jobs/errors';
import type { JobRunContext } from '../../../src/jobs/worker';
import { AnalysisProcess, nameDeath } from '../../../src/worker/analysis-process';

const REPO = path.resolve(__dirname, '../../..');

describe('nameDeath', () => {
  const base = { code: null, signal: null, stderrTail: '', memoryMb: 256, stage: 'detected' };
  test('out of memory, signal, exit code and stall each get their reason and a message naming the stage', () => {
    const oom = '<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n';
    expect(nameDeath({ ...base, signal: 'SIGABRT', stderrTail: oom })).toEqual({ reason: 'out-of-memory', message: 'the analysis process ran out of memory (heap limit 256 MB) in stage detected' });
    expect(nameDeath({ ...base, signal: 'SIGSEGV' })).toEqual({ reason: 'analysis-crashed', message: 'the analysis process was killed by SIGSEGV in stage detected' });
    expect(nameDeath({ ...base, signal: 'SIGKILL' }).message).toMatch(/killed by SIGKILL in stage detected \(by the system, e.g. its out-of-memory killer/);
    expect(nameDeath({ ...base, code: 3, stderrTail: 'noise\nError: boom\n' })).toEqual({ reason: 'analysis-crashed', message: 'the analysis process exited with code 3 in stage detected (Error: boom)' });
    expect(nameDeath({ ...base, signal: 'SIGKILL', stalledMs: 300400, stage: 'fetched' })).toEqual({
      reason: 'analysis-stalled', message: 'stalled 300 s in stage fetched (no sign of life from the analysis process); killed',
    });
  });
});

describe('AnalysisProcess', () => {
  let pacs: net.Server;
  const sockets = new Set<net.Socket>();
  let proc: AnalysisProcess;
  let config: ReturnType<typeof configSchema.parse>;

  beforeAll(async () => {
    // Accepts every connection and never answers: the select stage waits on it.
    pacs = net.createServer((s) => (sockets.add(s), s.on('error', () => undefined)));
    await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
    const port = (pacs.address() as net.AddressInfo).port;
    config = configSchema.parse({
      pacs: { dicomwebUrl: `http://127.0.0.1:${port}/dicom-web`, timeoutMs: 600000, retries: 0 },
      model: { dir: path.join(REPO, 'models/lens-ulb') },
    });
    // Pinned to CUDA device 1 (node.gpus): no CUDA here, so the child loads on the CPU and says so.
    const device = { executionProviders: ['cuda' as const, 'cpu' as const], cudaDeviceId: 1 };
    proc = new AnalysisProcess({ config, device, memoryMb: 512, stallMs: 60000, findSucceeded: async () => undefined });
  });
  afterAll(async () => {
    await proc?.stop();
    for (const s of sockets) s.destroy();
    await new Promise((r) => pacs.close(r));
  });

  function context(onStage: (stage: string) => void, leaseLost = false): JobRunContext {
    return {
      journal: async () => undefined,
      enterStage: async (stage) => onStage(stage),
      checkLease: () => {
        if (leaseLost) throw new LeaseLostError('lease of job 2 lost');
      },
    };
  }

  test('a child killed by a signal in a stage: the job ends as an observed death naming the signal and the stage; the child is started again', async () => {
    const model = await proc.start();
    expect(model.manifest.name).toBeTruthy();
    expect(model).toMatchObject({ executionProvider: 'cpu', device: 'cpu' });
    const first = proc.pid!;
    let entered!: () => void;
    const inSelect = new Promise<void>((r) => (entered = r));
    const result = proc.run({ id: 1, studyInstanceUID: '1.2.3', force: false, receivedAt: Date.now() }, context((s) => s === 'selected' && entered()));
    await inSelect;
    process.kill(first, 'SIGSEGV');
    expect(await result).toEqual({
      kind: 'failed', died: true, transient: true, reason: 'analysis-crashed', stage: 'selected', message: 'the analysis process was killed by SIGSEGV in stage selected',
    });
    await proc.start();
    expect(proc.pid).toBeDefined();
    expect(proc.pid).not.toBe(first);
  }, 120000);

  test('a child that gives no sign of life (stopped) is killed by the watchdog: an observed death named as a stall in its stage', async () => {
    const stalling = new AnalysisProcess({ config, memoryMb: 512, stallMs: 8000, findSucceeded: async () => undefined });
    try {
      await stalling.start();
      let entered!: () => void;
      const inSelect = new Promise<void>((r) => (entered = r));
      const result = stalling.run({ id: 3, studyInstanceUID: '1.2.5', force: false, receivedAt: Date.now() }, context((s) => s === 'selected' && entered()));
      await inSelect;
      process.kill(stalling.pid!, 'SIGSTOP');
      expect(await result).toMatchObject({ kind: 'failed', died: true, reason: 'analysis-stalled', stage: 'selected', message: expect.stringMatching(/^stalled (8|9|10) s in stage selected/) });
    } finally {
      await stalling.stop();
    }
  }, 120000);

  test('a lease lost before a stage reaches the child: the job ends without an outcome', async () => {
    await expect(proc.run({ id: 2, studyInstanceUID: '1.2.4', force: false, receivedAt: Date.now() }, context(() => undefined, true))).rejects.toThrow(LeaseLostError);
    expect(proc.busy).toBe(false);
  }, 60000);
});
