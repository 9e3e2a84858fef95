/**
 * The shipped model against its manifest through onnxruntime: it loads and matches; a manifest that names outputs
 * the graph lacks (or the wrong channel counts) is refused with the mismatch named, by loadDetector and lens doctor.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChecks } from '../../../src/cli/doctor';
import { loadDetector } from '../../../src/detect/detector';
import { ModelError, readManifest } from '../../../src/detect/load-manifest';
import { createSession } from '../../../src/detect/session';

const shipped = path.resolve(__dirname, '../../../models/lens-ulb');

/** The NVIDIA driver lists every GPU it drives here. */
function cudaDevicePresent(): boolean {
  const dir = '/proc/driver/nvidia/gpus';
  return fs.existsSync(dir) && fs.readdirSync(dir).length > 0;
}

describe('model contract', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-model-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function brokenManifest(edit: (m: any) => void): string {
    const m = JSON.parse(fs.readFileSync(path.join(shipped, 'model.json'), 'utf8'));
    m.file = path.join(shipped, m.file); // the real graph
    edit(m);
    const d = fs.mkdtempSync(path.join(dir, 'm-'));
    fs.writeFileSync(path.join(d, 'model.json'), JSON.stringify(m));
    return d;
  }

  // With a CUDA device the CUDA provider may load and nothing falls back: this test is about machines without one.
  const cuda = cudaDevicePresent();
  (cuda ? it.skip : it)(`CUDA configured first falls back to the CPU and says why${cuda ? ' (skipped: a CUDA device is present)' : ''}`, async () => {
    const opened = await createSession(readManifest(shipped).onnxPath, { executionProviders: ['cuda', 'cpu'], threads: 1 });
    try {
      expect(opened.provider).toBe('cpu');
      expect(opened.skipped).toEqual([{ provider: 'cuda', reason: expect.stringMatching(/cuda/i) }]);
    } finally {
      await opened.session.release();
    }
    const d = await loadDetector(shipped, { executionProviders: ['cuda', 'cpu'], threads: 1, batchSize: 2 });
    expect(d.executionProvider).toBe('cpu');
    await d.dispose();
  });

  it('refuses a manifest whose head outputs are not in the graph, naming them', async () => {
    const d = brokenManifest((m) => {
      m.output.heads[0].heatmap = 'deeplesion_heatmap';
    });
    await expect(loadDetector(d, { executionProviders: ['cpu'] })).rejects.toThrow(ModelError);
    await expect(loadDetector(d, { executionProviders: ['cpu'] })).rejects.toThrow(/heatmap output "deeplesion_heatmap" is not in the graph/);
  });

  it('refuses a manifest with the wrong number of classes or input slices', async () => {
    const d = brokenManifest((m) => {
      m.output.heads[0].classes = ['lung_nodule'];
      m.input.slices = m.input.slices + 2;
    });
    await expect(loadDetector(d, { executionProviders: ['cpu'] })).rejects.toThrow(/channels, the manifest implies 1 channels/);
    await expect(loadDetector(d, { executionProviders: ['cpu'] })).rejects.toThrow(/the manifest implies \d+ slices/);
  });

  it('lens doctor reports OK for the shipped model and FAIL with the reason for a broken one', async () => {
    const saved = process.env.LENS__MODEL__DIR;
    try {
      process.env.LENS__MODEL__DIR = shipped;
      const ok = await runChecks(undefined, false);
      expect(ok.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
      expect(ok.find((c) => c.name === 'execution provider')?.detail).toMatch(/^cpu/);
      process.env.LENS__MODEL__DIR = brokenManifest((m) => {
        m.output.mask = 'segmentation';
      });
      const bad = await runChecks(undefined, false);
      const check = bad.find((c) => c.name === 'manifest vs graph')!;
      expect(check.ok).toBe(false);
      expect(check.detail).toMatch(/mask output "segmentation" is not in the graph/);
    } finally {
      if (saved === undefined) delete process.env.LENS__MODEL__DIR;
      else process.env.LENS__MODEL__DIR = saved;
    }
  });
});
