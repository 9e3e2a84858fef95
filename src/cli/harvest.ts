import fs from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { loadDetector } from '../detect/detector';
import { ModelError } from '../detect/load-manifest';
import { currentModelDir } from '../models/registry';
import { ProposalClassifier } from '../detect/proposal-classifier';
import { DicomWebArchive, FolderArchive, parseDate, readStudyList, type DateWindow, type HarvestArchive } from '../harvest/archives';
import { HarvestDataset } from '../harvest/dataset';
import { runHarvest } from '../harvest/harvest-run';
import { thresholdPolicy } from '../harvest/proposals';
import { DicomWebClient } from '../pacs/dicomweb';
import { UserError } from './errors';

interface HarvestCliOptions {
  out?: string;
  since?: string;
  until?: string;
  folder?: string;
  model?: string;
  classifier?: string;
  complete?: string;
}

/** `lens harvest`: one harvest run now (docs/harvest.md). Reads the archive; writes only into --out. */
export function register(program: Command): void {
  program
    .command('harvest')
    .description('mine the archive for lesions nobody labeled and hard negatives (Lesion Harvester); writes a dataset, never into the PACS')
    .option('--out <dir>', 'dataset folder (default: config harvest.outDir)')
    .option('--since <date>', 'first StudyDate to scan, YYYY-MM-DD or YYYYMMDD (default: the whole archive)')
    .option('--until <date>', 'last StudyDate to scan (default: open)')
    .option('--folder <dir>', 'harvest the studies in this DICOM folder instead of the PACS (e.g. real CT offline)')
    .option('--model <dir>', 'detector model folder (default: the promoted model, else config model.dir)')
    .option('--classifier <dir>', 'proposal classifier folder (default: config harvest.classifierDir)')
    .option('--complete <file>', 'StudyInstanceUIDs of completely annotated studies, one per line (default: config harvest.completeStudiesFile)')
    .action(async (opts: HarvestCliOptions) => {
      const cfg = loadConfig({ file: program.opts().config });
      const window: DateWindow = { since: parseDate(opts.since, '--since'), until: parseDate(opts.until, '--until') };
      if (window.since && window.until && window.since > window.until) throw new UserError(`--since ${opts.since} is after --until ${opts.until}`);
      if (opts.folder && !fs.existsSync(opts.folder)) throw new UserError(`--folder ${opts.folder} does not exist`);
      const completeFile = opts.complete ?? cfg.harvest.completeStudiesFile;
      const archive: HarvestArchive = opts.folder
        ? new FolderArchive(opts.folder)
        : new DicomWebArchive(new DicomWebClient({ ...cfg.pacs, frameConcurrency: cfg.harvest.maxConcurrentRequests }), window, cfg.harvest.windowDays, cfg.harvest.maxBytesPerSecond);
      const [detector, classifier] = await loadModels(opts.model ?? currentModelDir(cfg), opts.classifier ?? cfg.harvest.classifierDir, cfg);
      try {
        const run = await runHarvest({
          archive,
          dataset: new HarvestDataset(opts.out ?? cfg.harvest.outDir),
          detector,
          classifier,
          rules: cfg.selection,
          policy: thresholdPolicy(cfg.harvest, classifier),
          completeStudies: completeFile ? readStudyList(completeFile) : undefined,
          window: { since: opts.since, until: opts.until },
          onStudy: (uid, outcome) => process.stdout.write(`${uid}: ${outcome}\n`),
        });
        const c = run.counts;
        const t = run.thresholds;
        process.stdout.write(
          `harvest ${run.runId}: ${c.studies} studies (${c.skippedAlreadyHarvested} already harvested, ${c.harvestedStudies} harvested, ${c.notAnalysed} not analysed, ${c.failed} failed); ` +
            `${c.labels} existing labels, ${c.harvested} harvested lesions, ${c.hardNegatives} hard negatives, ${c.uncertain} uncertain; ${(c.pacsBytesRead / 1e6).toFixed(1)} MB pixel data from the PACS` +
            (t ? `; thresholds high ${t.high ?? 'none'} low ${t.low} (${t.method})` : '') + '\n',
        );
        if (c.failed) process.exitCode = 1;
      } finally {
        await detector.dispose();
        await classifier.dispose();
      }
    });
}

async function loadModels(modelDir: string, classifierDir: string, cfg: LensConfig) {
  try {
    // The harvest scores every candidate itself: the detector runs without a chained second stage.
    const detector = await loadDetector(modelDir, cfg.model, {}, null);
    const classifier = await ProposalClassifier.load(classifierDir, cfg.model.threads).catch(async (e) => {
      await detector.dispose();
      throw e;
    });
    return [detector, classifier] as const;
  } catch (e) {
    throw e instanceof ModelError ? new UserError(e.message, 2, { cause: e }) : e;
  }
}
