/**
 * DICOM networking in `lens serve`: the C-STORE SCP (scp.ts) and the tracker that turns quiet received studies
 * into jobs (study-tracker.ts), started and stopped together.
 */
import type { LensConfig } from '../config/schema';
import type { EnqueueResult, JobStore, StudyAnalysisRequest } from '../jobs/types';
import type { IntakeGate } from '../server/intake-gate';
import { CommitmentReports } from './commitment-reports';
import { ReceivedFiles } from './received-files';
import type { DimseScp } from './scp';
import { ReceivedStudyTracker } from './study-tracker';

export interface DimseIntakeDeps {
  config: Pick<LensConfig, 'dimse' | 'node'>;
  workDir: string;
  store: Pick<JobStore, 'get'>;
  enqueue(req: StudyAnalysisRequest): Promise<EnqueueResult>;
  /** The service's intake gate: its disk watermark refuses C-STORE with A700. */
  intake: Pick<IntakeGate, 'state'>;
}

export interface DimseIntake {
  scp: DimseScp;
  tracker: ReceivedStudyTracker;
  stop(): Promise<void>;
}

const MB = 2 ** 20;

export async function startDimseIntake(d: DimseIntakeDeps): Promise<DimseIntake> {
  const c = d.config.dimse;
  const files = new ReceivedFiles(d.workDir);
  const tracker = new ReceivedStudyTracker({
    files,
    store: d.store,
    enqueue: d.enqueue,
    quietMs: c.quietSeconds * 1000,
    keepReceived: c.keepReceived,
    receivedBy: c.sharedWorkDir ? undefined : d.config.node.name,
    maxStudyBytes: c.maxStudyMb * MB,
    maxTotalBytes: c.maxTotalMb * MB,
  });
  await tracker.start();
  // The destination sends its storage commitment reports here (on a new association); the job waits for them.
  const commitmentFrom = c.destination && c.destination.storageCommitment !== 'off'
    ? { aeTitle: c.destination.aeTitle, reports: new CommitmentReports(d.workDir) }
    : undefined;
  await commitmentFrom?.reports.prepare();
  // dcmjs-dimse takes about a second to load: a service without dimse.enabled never loads it.
  const { DimseScp } = require('./scp') as typeof import('./scp');
  const scp = new DimseScp({
    aeTitle: c.aeTitle,
    host: c.host,
    port: c.port,
    allowedCallingAeTitles: c.allowedCallingAeTitles,
    maxAssociations: c.maxAssociations,
    maxInstanceBytes: c.maxStudyMb * MB,
    maxTotalBytes: c.maxTotalMb * MB,
    files,
    tracker,
    commitmentFrom,
    intakeClosed: () => {
      const s = d.intake.state;
      return s.open ? undefined : `intake stopped (${s.reason})`;
    },
  });
  try {
    await scp.start();
  } catch (e) {
    await tracker.stop();
    throw e;
  }
  return {
    scp,
    tracker,
    async stop() {
      await scp.stop();
      await tracker.stop();
    },
  };
}
