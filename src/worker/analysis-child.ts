/**
 * The analysis process: a child of the service (analysis-process.ts) that loads the model it is given once (the
 * service decides which: a promotion starts new children, model-reload.ts) and analyses the
 * studies the service hands it, one at a time, through the same stages as always (run-job.ts). Whatever a study
 * does to it (exhausts its heap, crashes native code, blocks its event loop) kills this process, which the service
 * observes and names; the service itself stays up. The store and the lease stay with the service: the child asks
 * it to record stage entries and journey events, and to look up earlier results. When the service goes away (IPC
 * channel closed) the child exits at once, so that a restarted service is the only one working on the job.
 */
import path from 'node:path';
import { classifyError, LensError } from '../errors';
import { loadDetector } from '../detect/detector';
import { LeaseLostError } from '../jobs/errors';
import type { Job, StudyAnalysisJob } from '../jobs/types';
import { log } from '../log';
import { DicomWebClient } from '../pacs/dicomweb';
import { createPacsPipeline } from '../pipeline/pacs-pipeline';
import { runJob, type RunContext } from '../pipeline/run-job';
import type { StudyPipeline } from '../pipeline/study-pipeline';
import { dimsePipelineFor } from '../dimse/pipeline';
import { deviceLabel, type WorkerDevice } from './gpu-devices';
import { ALIVE_EVERY_MS, type ChildCall, type FromChild, type ToChild } from './protocol';

function send(m: FromChild): void {
  if (!process.connected) process.exit(1);
  process.send!(m, undefined, undefined, (e) => {
    if (e) process.exit(1);
  });
}

let nextCallId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

function call<T>(c: ChildCall): Promise<T> {
  const id = nextCallId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    send({ type: 'call', id, call: c });
  });
}

let pipeline: StudyPipeline | undefined;
/** Studies received by C-STORE (src/dimse): the same stages over their folder, the report to dimse.destination. */
let receivedPipeline: ((dimseFolder: string) => StudyPipeline) | undefined;

const ctx: RunContext = {
  journal: (event, details) => call<void>({ method: 'journal', event, details }),
  recordStudy: (study) => call<void>({ method: 'recordStudy', study }),
  // The service checks its lease before it records the stage: a lost lease comes back as LeaseLostError.
  enterStage: (stage) => call<void>({ method: 'enterStage', stage }),
  checkLease: () => undefined,
};

async function init({ config, device, modelDir }: Extract<ToChild, { type: 'init' }>): Promise<void> {
  try {
    const client = new DicomWebClient(config.pacs);
    const detector = await loadDetector(modelDir, { ...config.model, ...device });
    pipeline = createPacsPipeline({
      config,
      client,
      detector,
      findSucceeded: (key) => call<StudyAnalysisJob | undefined>({ method: 'findSucceeded', key }).then((j) => j ?? undefined),
      succeededForStudy: (studyInstanceUID) => call<Job[]>({ method: 'succeededForStudy', studyInstanceUID }),
      orthanc: config.orthanc,
    });
    receivedPipeline = dimsePipelineFor({
      config, workDir: path.resolve(config.workDir), client, detector,
      findSucceeded: (key) => call<StudyAnalysisJob | undefined>({ method: 'findSucceeded', key }).then((j) => j ?? undefined),
      succeededForStudy: (studyInstanceUID) => call<Job[]>({ method: 'succeededForStudy', studyInstanceUID }),
    });
    const where = deviceLabel(detector.executionProvider, device?.cudaDeviceId);
    send({ type: 'ready', model: { manifest: { name: detector.manifest.name, version: detector.manifest.version }, executionProvider: detector.executionProvider, device: where } });
  } catch (e) {
    send({ type: 'init-failed', message: (e as Error).message });
    process.disconnect();
  }
}

async function run(job: Extract<ToChild, { type: 'run' }>['job']): Promise<void> {
  try {
    if (!pipeline) throw new Error('the analysis process has no model loaded');
    const p = job.dimseFolder && receivedPipeline ? receivedPipeline(job.dimseFolder) : pipeline;
    send({ type: 'done', jobId: job.id, result: await runJob(job, p, ctx) });
  } catch (e) {
    if (e instanceof LeaseLostError) return send({ type: 'lease-lost', jobId: job.id, message: e.message });
    const c = classifyError(e);
    send({ type: 'done', jobId: job.id, result: { kind: 'failed', reason: c.reason, transient: c.transient, message: c.message } });
  }
}

process.on('message', (m: ToChild) => {
  switch (m.type) {
    case 'init':
      void init(m);
      break;
    case 'run':
      void run(m.job);
      break;
    case 'reply': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) break;
      if (m.error) p.reject(m.error.leaseLost ? new LeaseLostError(m.error.message) : new LensError(m.error.message, m.error.reason, m.error.transient));
      else p.resolve(m.value);
      break;
    }
  }
});
process.on('disconnect', () => process.exit(0));
setInterval(() => send({ type: 'alive' }), ALIVE_EVERY_MS);
log.debug('analysis process started', { pid: process.pid });
