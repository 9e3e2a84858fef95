/**
 * Detector benchmark (no assertions): slices per second of the model, and wall time and peak memory of
 * `lens detect` on a 300-slice 512x512 synthetic study written as DICOM to a temp folder.
 * Target for the shipped model on 2 CPU cores: under 60 s and under 2 GB peak RSS for that study.
 *
 *   node -r tsx/cjs bench/detect-bench.ts [--slices 300] [--size 512] [--seed 31337] [--threads 0]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDetector } from '../src/detect/detector';
import { StackBuilder } from '../src/detect/preprocess';
import { generateStudy } from '../src/synth/study';
import { writeStudyDicom } from '../src/synth/write-dicom';
import { countOption, parseOptions } from '../scripts/args';

const repo = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['slices', 'size', 'seed', 'threads'] });
  const slices = countOption(o.slices, 'slices', 300);
  const size = countOption(o.size, 'size', 512);
  const seed = countOption(o.seed, 'seed', 31337);
  const threads = countOption(o.threads, 'threads', 0);
  const cpu = os.cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);

  let t = performance.now();
  const study = generateStudy(seed, { slices, size, thickness: 1 });
  const v = study.volume;
  console.log(`study: ${v.dims.join('x')} voxels, ${v.spacing.map((s) => +s.toFixed(3)).join(' x ')} mm (generated in ${((performance.now() - t) / 1000).toFixed(1)} s)`);

  // 1. The model alone: inference on prepared batches, and the whole in-process detect.
  const detector = await loadDetector(path.join(repo, 'models/lens-ulb'), { executionProviders: ['cpu'], threads, batchSize: 4 });
  const builder = new StackBuilder(v, detector.manifest);
  const g = builder.grid;
  const positions = Math.min(32, builder.positionsMm.length);
  const batch = builder.buildBatch([0, 1, 2, 3]);
  await detector.runBatch(batch, 4, g.paddedHeight, g.paddedWidth); // warm-up
  t = performance.now();
  for (let p = 0; p < positions; p += 4) await detector.runBatch(batch, 4, g.paddedHeight, g.paddedWidth);
  const inferS = (performance.now() - t) / 1000;
  console.log(`model ${detector.manifest.name} ${detector.manifest.version}: ${(positions / inferS).toFixed(1)} analysed positions/s (input ${detector.manifest.input.slices}x${g.paddedHeight}x${g.paddedWidth}, batch 4, threads ${threads || 'auto'})`);
  t = performance.now();
  const { findings } = await detector.detect(v);
  const detectS = (performance.now() - t) / 1000;
  console.log(
    `detect in process: ${v.dims[2]} slices (${builder.positionsMm.length} positions every ${detector.manifest.input.sliceStrideMm ?? detector.manifest.input.sliceIntervalMm} mm) in ${detectS.toFixed(1)} s = ${(v.dims[2] / detectS).toFixed(1)} slices/s; ${findings.lesions.length} findings; timings ${JSON.stringify(findings.timingsMs)}`,
  );
  await detector.dispose();

  // 2. The command end to end, as a user runs it: DICOM files -> findings.json (+ SR/SEG), peak RSS by /usr/bin/time.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-detect-bench-'));
  try {
    const dicomDir = path.join(tmp, 'dicom');
    t = performance.now();
    writeStudyDicom(study, dicomDir);
    console.log(`wrote ${v.dims[2]} DICOM files in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const cmd = [path.join(repo, 'bin/lens.js'), 'detect', dicomDir, '--out', path.join(tmp, 'out'), ...(threads ? ['--threads', String(threads)] : [])];
    const useTime = fs.existsSync('/usr/bin/time');
    t = performance.now();
    const r = useTime
      ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...cmd], { cwd: repo, encoding: 'utf8', env: { ...process.env, LENS_LOG_LEVEL: 'warn' } })
      : spawnSync(process.execPath, cmd, { cwd: repo, encoding: 'utf8', env: { ...process.env, LENS_LOG_LEVEL: 'warn' } });
    const wallS = (performance.now() - t) / 1000;
    if (r.status !== 0) throw new Error(`lens detect failed (${r.status}): ${r.stderr}`);
    const maxRssKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '')?.[1] ?? NaN);
    process.stdout.write(r.stdout.split('\n').filter((l) => /^(model|timings|wrote)/.test(l)).map((l) => `  ${l}\n`).join(''));
    console.log(
      `lens detect (${v.dims[2]} slices ${v.dims[0]}x${v.dims[1]}): wall ${wallS.toFixed(1)} s, peak RSS ${Number.isFinite(maxRssKb) ? `${(maxRssKb / 1024).toFixed(0)} MiB` : 'unknown (no /usr/bin/time)'}` +
        ` (target < 60 s, < 2048 MiB on 2 cores; this machine has ${cpu.length})`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`detect-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
