import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { loadDetector, type Detector } from '../detect/detector';
import { ModelError, readManifest } from '../detect/load-manifest';
import { LensError } from '../errors';
import { currentModelDir } from '../models/registry';
import { FileReportSink } from '../pipeline/report-sink';
import { newProgress, runStages, type PipelineResult } from '../pipeline/run-stages';
import { createStudyPipeline } from '../pipeline/study-pipeline';
import { summariseUnreadable, type UnreadableFile } from '../dicom/load-folder';
import { FolderStudySource } from '../source/folder-source';
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
    .option('--model <dir>', 'model folder with model.json (default: the registry\'s current model, else config model.dir)')
    .option('--threshold <x>', 'report lesions scoring at least x (default: the manifest\'s lesionScoreThreshold)')
    .option('--threads <n>', 'onnxruntime intra-op threads (0 = one per core)')
    .option('--batch-size <n>', 'positions per inference call')
    .option('--no-report', 'write findings.json only, no DICOM SR/SEG')
    .action(async (dir: string, opts: DetectCliOptions) => {
      const cfg = loadConfig({ file: program.opts().config });
      const model = modelConfig(cfg, opts);
      if (!fs.existsSync(dir)) throw new UserError(`${dir} does not exist`);
      const source = new FolderStudySource(dir);
      const study = await aboutTheFolder(dir, () => onlyStudy(source));
      const detector = new DetectorOnFirstUse(model);
      const sink = new FileReportSink(opts.out);
      // The service's stages with a folder for the PACS and files for STOW-RS: every run analyses (no job history).
      const pipeline = createStudyPipeline({
        source, sink, rules: cfg.selection, detector, report: opts.report, findSucceeded: async () => undefined,
      });
      const progress = newProgress();
      let result: PipelineResult;
      try {
        result = await runStages({ studyInstanceUID: study, force: true }, pipeline, {
          afterStage: (stage) => {
            // findings.json keeps the command's own timings: reading the series and loading the model first.
            const d = progress.detected;
            if (stage !== 'detected' || !d) return;
            const t = progress.timingsMs;
            d.findings.timingsMs = { load: (t.selected ?? 0) + (t.fetched ?? 0), modelLoad: detector.loadMs, ...d.findings.timingsMs };
          },
        }, progress);
      } catch (e) {
        if (progress.detected && !(e instanceof UserError)) {
          // The findings exist: keep them even when the SR/SEG could not be built or written.
          await sink.writeFindings(progress.detected.findings);
          throw new UserError(`findings.json is written, but the DICOM SR/SEG failed: ${(e as Error).message} (--no-report skips them)`, 1, { cause: e });
        }
        throw inUserWords(dir, e);
      } finally {
        await detector.dispose();
      }
      process.stdout.write(summary(result, (await source.scanned()).unreadable) + '\n');
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
    // The model a running service would use: a promoted one when there is one (docs/harvest.md#promotion-and-rollback).
    dir: opts.model ?? currentModelDir(cfg),
    ...(threshold !== undefined ? { scoreThreshold: threshold } : {}),
    ...(opts.threads !== undefined ? { threads: num(opts.threads, '--threads', true)! } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
  };
}

/** The one study of the folder; a folder of several studies is refused (findings.json describes one). */
async function onlyStudy(source: FolderStudySource): Promise<string> {
  const studies = await source.studies();
  if (studies.length > 1) throw new UserError(`${source.dir} holds ${studies.length} studies (${studies.join(', ')}); give the folder of one study`);
  return studies[0];
}

async function aboutTheFolder<T>(dir: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw inUserWords(dir, e);
  }
}

/** A failure about the folder's data (its own LensError) is said with the folder's name in front. */
function inUserWords(dir: string, e: unknown): unknown {
  if (e instanceof LensError && !(e instanceof UserError)) return new UserError(`${dir}: ${e.message}`, 2, { cause: e });
  return e;
}

/**
 * The detector, loaded when the detect stage first needs it: a folder that holds nothing to analyse is refused
 * without waiting for the model. The manifest is read at once (the select stage keys the work by its version).
 */
class DetectorOnFirstUse implements Pick<Detector, 'detect' | 'manifest'> {
  readonly manifest: Detector['manifest'];
  loadMs = 0;
  private loaded?: Promise<Detector>;

  constructor(private readonly model: LensConfig['model']) {
    this.manifest = readManifest(model.dir).manifest;
  }

  async detect(...args: Parameters<Detector['detect']>): ReturnType<Detector['detect']> {
    if (!this.loaded) {
      const t = performance.now();
      // A model that does not load is not the folder's fault: said without the folder's name.
      this.loaded = loadDetector(this.model.dir, this.model).catch((e) => {
        throw e instanceof ModelError ? new UserError(e.message, 2, { cause: e }) : e;
      });
      this.loaded.then(() => (this.loadMs = Math.round(performance.now() - t)), () => undefined);
    }
    return (await this.loaded).detect(...args);
  }

  async dispose(): Promise<void> {
    const d = await this.loaded?.catch(() => undefined);
    await d?.dispose();
  }
}

function summary(r: PipelineResult, unreadable: UnreadableFile[]): string {
  const v = r.fetched.volume;
  const series = r.selected.series;
  const f = r.detected.findings;
  const lines = [
    `series ${v.seriesInstanceUID}${series.seriesDescription ? ` "${series.seriesDescription}"` : ''}: ${v.dims[2]} slices ${v.dims[0]}x${v.dims[1]}, ${v.spacing.map((s) => +s.toFixed(3)).join(' x ')} mm (${r.selected.why})`,
    `model ${f.model.name} ${f.model.version} on ${f.model.executionProvider}: ${f.lesions.length} lesion${f.lesions.length === 1 ? '' : 's'}`,
  ];
  for (const l of f.lesions.slice(0, 20))
    lines.push(`  #${l.id} ${l.type.padEnd(12)} score ${l.score.toFixed(3)}  ${l.longAxisMm.toFixed(1)} x ${l.shortAxisMm.toFixed(1)} mm${l.volumeMm3 !== undefined ? `, ${(l.volumeMm3 / 1000).toFixed(2)} ml` : ''}`);
  if (f.lesions.length > 20) lines.push(`  ... ${f.lesions.length - 20} more in findings.json`);
  // What was left out or tolerated to analyse this series is part of the result: never only in the SR.
  for (const t of v.tolerated ?? []) lines.push(`tolerated: ${t}`);
  if (unreadable.length) lines.push(`skipped ${summariseUnreadable(unreadable)}`);
  lines.push(`timings (ms): ${Object.entries(f.timingsMs).map(([k, t]) => `${k} ${t}`).join(', ')}`);
  lines.push(`wrote ${r.stored.locations.join(', ')}`);
  return lines.join('\n');
}
