import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { loadDetector, type DetectionResult } from '../detect/detector';
import { ModelError } from '../detect/load-manifest';
import { loadSelectedVolume, type LoadedVolume } from '../dicom/load-folder';
import { UserError } from './errors';

interface DetectCliOptions {
  out: string;
  model?: string;
  threshold?: string;
  threads?: string;
  batchSize?: string;
  report: boolean;
}

export function register(program: Command): void {
  program
    .command('detect')
    .description('select the CT series in a DICOM folder, detect lesions, write findings.json (and sr.dcm, seg.dcm)')
    .argument('<dicom-dir>', 'folder with the study\'s DICOM files (searched recursively)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--model <dir>', 'model folder with model.json (default: config model.dir)')
    .option('--threshold <x>', 'report lesions scoring at least x (default: the manifest\'s lesionScoreThreshold)')
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = one per core)')
    .option('--batch-size <n>', 'positions per inference call')
    .option('--no-report', 'write findings.json only, no DICOM SR/SEG')
    .action(async (dir: string, opts: DetectCliOptions) => {
      const cfg = loadConfig({ file: program.opts().config });
      const model = modelConfig(cfg, opts);
      const t0 = performance.now();
      const loaded = await loadVolume(dir, cfg);
      const tLoad = performance.now() - t0;
      const t1 = performance.now();
      const detector = await loadDetector(model.dir, model).catch((e) => {
        throw e instanceof ModelError ? new UserError(e.message) : e;
      });
      const tModel = performance.now() - t1;
      let result: DetectionResult;
      try {
        result = await detector.detect(loaded.volume);
      } finally {
        await detector.dispose();
      }
      result.findings.timingsMs = { load: Math.round(tLoad), modelLoad: Math.round(tModel), ...result.findings.timingsMs };
      fs.mkdirSync(opts.out, { recursive: true });
      const findingsFile = path.join(opts.out, 'findings.json');
      fs.writeFileSync(findingsFile, JSON.stringify(result.findings, null, 2) + '\n');
      const written = [findingsFile, ...(opts.report ? await writeReport(result, loaded, opts.out) : [])];
      process.stdout.write(summary(loaded, result, written) + '\n');
    });
}

function modelConfig(cfg: LensConfig, opts: DetectCliOptions): LensConfig['model'] {
  const num = (v: string | undefined, what: string, int: boolean) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (int && !Number.isInteger(n))) throw new UserError(`${what} must be a ${int ? 'non-negative integer' : 'number'}, got "${v}"`);
    return n;
  };
  const threshold = num(opts.threshold, '--threshold', false);
  if (threshold !== undefined && threshold > 1) throw new UserError(`--threshold must be in [0, 1], got ${threshold}`);
  const batchSize = num(opts.batchSize, '--batch-size', true);
  if (batchSize === 0) throw new UserError('--batch-size must be at least 1');
  return {
    ...cfg.model,
    dir: opts.model ?? cfg.model.dir,
    ...(threshold !== undefined ? { scoreThreshold: threshold } : {}),
    ...(opts.threads !== undefined ? { threads: num(opts.threads, '--threads', true)! } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
  };
}

async function loadVolume(dir: string, cfg: LensConfig): Promise<LoadedVolume> {
  if (!fs.existsSync(dir)) throw new UserError(`${dir} does not exist`);
  try {
    return await loadSelectedVolume(dir, cfg.selection);
  } catch (e) {
    // Folder, selection, header, decode and geometry problems are the user's data: one clear line.
    const name = (e as Error)?.name ?? '';
    if (/^(FolderError|SelectionError|VolumeError|DicomDecodeError|DicomHeaderError)$/.test(name) || e instanceof UserError)
      throw new UserError(`${dir}: ${(e as Error).message}`);
    throw e;
  }
}

async function writeReport(result: DetectionResult, loaded: LoadedVolume, out: string): Promise<string[]> {
  // The DICOM SR/SEG builders live in src/report; loaded lazily so that findings.json never depends on them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const report = require('../report') as typeof import('../report');
  try {
    const { files } = await report.writeReportFiles(result, loaded.volume, loaded.firstDataset, out);
    return files;
  } catch (e) {
    throw new UserError(`findings.json is written, but the DICOM SR/SEG failed: ${(e as Error).message} (--no-report skips them)`, 1);
  }
}

function summary(loaded: LoadedVolume, r: DetectionResult, written: string[]): string {
  const v = loaded.volume;
  const f = r.findings;
  const lines = [
    `series ${v.seriesInstanceUID}${loaded.series.seriesDescription ? ` "${loaded.series.seriesDescription}"` : ''}: ${v.dims[2]} slices ${v.dims[0]}x${v.dims[1]}, ${v.spacing.map((s) => +s.toFixed(3)).join(' x ')} mm (${loaded.selection.why})`,
    `model ${f.model.name} ${f.model.version} on ${f.model.executionProvider}: ${f.lesions.length} lesion${f.lesions.length === 1 ? '' : 's'}`,
  ];
  for (const l of f.lesions.slice(0, 20))
    lines.push(`  #${l.id} ${l.type.padEnd(12)} score ${l.score.toFixed(3)}  ${l.longAxisMm.toFixed(1)} x ${l.shortAxisMm.toFixed(1)} mm${l.volumeMm3 !== undefined ? `, ${(l.volumeMm3 / 1000).toFixed(2)} ml` : ''}`);
  if (f.lesions.length > 20) lines.push(`  ... ${f.lesions.length - 20} more in findings.json`);
  lines.push(`timings (ms): ${Object.entries(f.timingsMs).map(([k, t]) => `${k} ${t}`).join(', ')}`);
  lines.push(`wrote ${written.join(', ')}`);
  return lines.join('\n');
}
