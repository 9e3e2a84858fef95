/**
 * The nightly harvest's process (forked by nightly.ts): it receives its order over IPC (the configuration never
 * goes through a file or the command line), runs one harvest and says how it went. Detection is CPU-bound: in a
 * process of its own it never slows the service's event loop, and the service can pause it (SIGSTOP) while live
 * studies wait and kill it at the end of the night's window; the dataset is kill-safe (dataset.ts).
 */
import type { LensConfig } from '../config/schema';
import { loadDetector } from '../detect/detector';
import { currentModelDir } from '../models/registry';
import { ProposalClassifier } from '../detect/proposal-classifier';
import { classifyError } from '../errors';
import { DicomWebClient } from '../pacs/dicomweb';
import { DicomWebArchive, FolderArchive, type HarvestArchive } from './archives';
import { HarvestDataset, type RunRecord } from './dataset';
import { runHarvest, type StudyProgress } from './harvest-run';
import { thresholdPolicy } from './proposals';

export interface HarvestOrder {
  config: LensConfig;
  /** Harvest this folder instead of the PACS (offline archives; tests). */
  folder?: string;
}

export type FromHarvestChild =
  | { type: 'study'; progress: StudyProgress }
  | { type: 'done'; run: RunRecord }
  | { type: 'failed'; reason: string; message: string; transient: boolean };

async function harvest(order: HarvestOrder): Promise<RunRecord> {
  const { config } = order;
  const archive: HarvestArchive = order.folder
    ? new FolderArchive(order.folder)
    : new DicomWebArchive(new DicomWebClient({ ...config.pacs, frameConcurrency: config.harvest.maxConcurrentRequests }), {}, config.harvest.windowDays, config.harvest.maxBytesPerSecond);
  const detector = await loadDetector(currentModelDir(config), config.model, {}, null);
  const classifier = await ProposalClassifier.load(config.harvest.classifierDir, config.model.threads);
  try {
    return await runHarvest({
      archive,
      dataset: new HarvestDataset(config.harvest.outDir),
      detector,
      classifier,
      rules: config.selection,
      policy: thresholdPolicy(config.harvest, classifier),
      onProgress: (progress) => void send({ type: 'study', progress }),
    });
  } finally {
    await detector.dispose();
    await classifier.dispose();
  }
}

function send(m: FromHarvestChild): Promise<void> {
  return new Promise((resolve) => process.send!(m, () => resolve()));
}

if (process.send) {
  // The service is gone: stop with it (the dataset is kill-safe; the next run resumes).
  process.once('disconnect', () => process.exit(0));
  process.once('message', (order: HarvestOrder) => {
    harvest(order).then(
      async (run) => {
        await send({ type: 'done', run });
        process.exit(0);
      },
      async (e) => {
        const c = classifyError(e);
        await send({ type: 'failed', reason: c.reason, message: c.message, transient: c.transient });
        process.exit(1);
      },
    );
  });
}
