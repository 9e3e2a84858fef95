/**
 * `lens model`: the model registry and promotion gate (docs/harvest.md#promotion-and-rollback) and the harvest's
 * training sets (docs/harvest.md#retraining).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { ModelError } from '../detect/load-manifest';
import { CropSpecError, parseCropSpec, type CropSpec } from '../detect/proposal-crops';
import { HarvestDataset, type HarvestRecord } from '../harvest/dataset';
import { exportClassifierSet } from '../harvest/classifier-set';
import { exportTrainingSet } from '../harvest/training-set';
import { FolderArchive } from '../harvest/archives';
import { promoteCandidate } from '../models/promotion';
import { ModelRegistry, RegistryError } from '../models/registry';
import { DicomWebClient } from '../pacs/dicomweb';
import { DicomWebStudySource } from '../source/dicomweb-source';
import type { StudySource } from '../source/study-source';
import { UserError } from './errors';

export function register(program: Command): void {
  const model = program.command('model').description('the model registry: list, promote a candidate through the gate, roll back; training sets from a harvest');
  const config = () => loadConfig({ file: program.opts().config });

  model
    .command('list')
    .description('the model the service loads, the earlier promoted ones and every decision')
    .action(() => {
      const registry = ModelRegistry.of(config());
      const r = registry.read();
      const cur = registry.current(r);
      process.stdout.write(`current: ${cur.version} (${cur.dir})${r.current ? `, promoted ${r.current.promotedAt}` : ' (base model: config model.dir)'}\n`);
      for (const h of [...r.history].reverse()) process.stdout.write(`earlier: ${h.version}, promoted ${h.promotedAt}\n`);
      for (const d of r.decisions) process.stdout.write(`${d.at} ${d.action}: ${d.message}\n`);
    });

  model
    .command('promote <candidate>')
    .description('measure the candidate model folder beside the current model on a labeled validation set; promote it when it is not worse')
    .requiredOption('--validation <dir>', 'labeled validation studies: folders with truth.json and their DICOM (lens synth output)')
    .action(async (candidate: string, opts: { validation: string }) => {
      const cfg = config();
      const outcome = await userErrors(() => promoteCandidate(ModelRegistry.of(cfg), candidate, opts.validation, cfg));
      process.stdout.write(`${outcome.message}\n`);
      for (const [who, f] of Object.entries(outcome.figures))
        process.stdout.write(`  ${who}: ${f.sensitivityAtFp.map((p) => `${p.fpPerVolume}:${p.sensitivity.toFixed(3)}`).join(' ')} average ${f.averageSensitivity.toFixed(4)}\n`);
      if (!outcome.promoted) process.exitCode = 1;
      else process.stdout.write(`${reloadNote(cfg)}\n`);
    });

  model
    .command('rollback')
    .description('return to the previously promoted model (or the base model, config model.dir)')
    .action(async () => {
      const cfg = config();
      const { from, to } = await userErrors(async () => ModelRegistry.of(cfg).rollback());
      process.stdout.write(`rolled back from ${from} to ${to}\n${reloadNote(cfg)}\n`);
    });

  model
    .command('training-set')
    .description('write a harvest dataset as training data (raw volumes, positives, hard negatives) for models/training/train_harvest.py')
    .requiredOption('--harvest <dir>', 'the harvest dataset (lens harvest --out)')
    .requiredOption('--out <dir>', 'training set folder (one folder per study)')
    .action(async (opts: { harvest: string; out: string }) => {
      const cfg = config();
      // HarvestDataset creates what is missing: a mistyped folder would give an empty training set, silently.
      if (!fs.existsSync(path.join(opts.harvest, 'studies'))) throw new UserError(`--harvest ${opts.harvest} is not a harvest dataset (no studies/ folder)`);
      const counts = await exportTrainingSet(new HarvestDataset(opts.harvest), opts.out, cfg.selection, sourcesOf(cfg), (uid, outcome) => process.stdout.write(`${uid}: ${outcome}\n`));
      process.stdout.write(
        `training set ${opts.out}: ${counts.studies} studies (${counts.written} written, ${counts.unchanged} unchanged, ${counts.notAnalysed} not analysed); ${counts.positives} positives, ${counts.hardNegatives} hard negatives\n`,
      );
    });

  model
    .command('classifier-set')
    .description('write a harvest dataset as proposal-classifier training data (readers\' labels, hard negatives; completely annotated studies apart, for calibration) for models/training/train_classifier.py')
    .requiredOption('--harvest <dir>', 'the harvest dataset (lens harvest --out)')
    .requiredOption('--out <dir>', 'a new folder: train/, calibration/, classifier-set.json')
    .option('--unlabeled-as-negatives', 'positive-unlabeled learning: every unmatched candidate of a partly annotated study is a negative (the classifier must then harvest another archive)')
    .option('--crop-spec <file>', 'the crops\' geometry (JSON, src/detect/proposal-crops.ts CropSpec; e.g. models/training/crop-specs/*.json); default: the shipped classifier\'s')
    .action(async (opts: { harvest: string; out: string; unlabeledAsNegatives?: boolean; cropSpec?: string }) => {
      const cfg = config();
      if (!fs.existsSync(path.join(opts.harvest, 'studies'))) throw new UserError(`--harvest ${opts.harvest} is not a harvest dataset (no studies/ folder)`);
      const spec = opts.cropSpec ? readCropSpecFile(opts.cropSpec) : undefined;
      const s = await exportClassifierSet(new HarvestDataset(opts.harvest), opts.out, cfg.selection, sourcesOf(cfg), {
        onStudy: (uid, outcome) => process.stdout.write(`${uid}: ${outcome}\n`),
        unlabeled: opts.unlabeledAsNegatives ? 'negative' : 'left-out',
        spec,
      });
      const c = (p: 'train' | 'calibration') => `${s.studies[p]} studies, ${s.candidates[p].pos} lesion candidates, ${s.candidates[p].neg} others`;
      process.stdout.write(`classifier set ${opts.out}: train ${c('train')}; calibration (completely annotated) ${c('calibration')}; ${s.notAnalysed} not analysed\n`);
      if (!s.candidates.train.pos || !s.candidates.calibration.pos)
        process.stdout.write('warning: a part has no lesion candidate: the classifier cannot be trained and calibrated on this dataset\n');
    });
}

/** What happens next in a running service (src/worker/model-reload.ts). */
function reloadNote(cfg: LensConfig): string {
  const every = cfg.harvest.registryCheckSeconds;
  return every > 0
    ? `running services (lens serve with this registry) switch to it within about ${every} s plus its load; /readyz and /api/nodes name the model they run`
    : 'harvest.registryCheckSeconds is 0: restart lens serve to load it';
}

function readCropSpecFile(file: string): CropSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`--crop-spec ${file}: ${(e as Error).message}`);
  }
  try {
    return parseCropSpec(raw, `--crop-spec ${file}`);
  } catch (e) {
    if (e instanceof CropSpecError) throw new UserError(e.message);
    throw e;
  }
}

/** The study source a record was harvested from: its folder, or the PACS of the configuration. */
function sourcesOf(cfg: LensConfig): (record: HarvestRecord) => StudySource {
  const folders = new Map<string, StudySource>();
  let pacs: StudySource | undefined;
  return (record) => {
    const folder = /^folder (.+)$/.exec(record.source)?.[1];
    if (folder) {
      if (!folders.has(folder)) folders.set(folder, new FolderArchive(folder).source);
      return folders.get(folder)!;
    }
    if (!record.source.startsWith('DICOMweb ')) throw new UserError(`study ${record.studyInstanceUID}: unknown harvest source "${record.source}"`);
    pacs ??= new DicomWebStudySource(new DicomWebClient({ ...cfg.pacs, frameConcurrency: cfg.harvest.maxConcurrentRequests }));
    return pacs;
  };
}

async function userErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof RegistryError || e instanceof ModelError ? new UserError(e.message, 2, { cause: e }) : e;
  }
}
