/**
 * The pipeline of a job whose study arrived by C-STORE (source 'dimse'): the same typed stages as every other
 * source (pipeline/study-pipeline.ts), reading the received folder named in the job's payload (FolderStudySource)
 * and writing the report by C-STORE to dimse.destination, or by STOW-RS to the DICOMweb PACS when none is set.
 */
import type { LensConfig } from '../config/schema';
import type { Detector } from '../detect/detector';
import type { Job } from '../jobs/types';
import type { DicomWebClient } from '../pacs/dicomweb';
import { DicomWebReportSink, DimseReportSink, type ReportSink } from '../pipeline/report-sink';
import { createStudyPipeline, type StudyPipeline } from '../pipeline/study-pipeline';
import { FolderStudySource } from '../source/folder-source';
import { CommitmentReports } from './commitment-reports';
import { ReceivedFiles } from './received-files';

export interface DimsePipelineDeps {
  config: Pick<LensConfig, 'selection' | 'dimse'>;
  workDir: string;
  client: DicomWebClient;
  detector: Pick<Detector, 'detect' | 'manifest' | 'reportedModel'>;
  findSucceeded(key: string): Promise<Job | undefined>;
  succeededForStudy?(studyInstanceUID: string): Promise<Job[]>;
}

/** Where received studies' reports go; storage commitment reports on a new association come through the work dir. */
export function dimseReportSink(config: Pick<LensConfig, 'dimse'>, client: DicomWebClient, workDir: string): ReportSink {
  const d = config.dimse.destination;
  return d
    ? new DimseReportSink(
      { aeTitle: d.aeTitle, host: d.host, port: d.port, confirm: d.confirm },
      { callingAeTitle: config.dimse.aeTitle, timeoutMs: d.timeoutMs },
      { mode: d.storageCommitment, timeoutMs: d.commitmentTimeoutMs, reports: new CommitmentReports(workDir) },
    )
    : new DicomWebReportSink(client);
}

/** The received study folder a job's payload names (relative to the work dir), if any. */
export function receivedFolderOf(job: Pick<Job, 'payload'>): string | undefined {
  const f = job.payload?.dimseFolder;
  return typeof f === 'string' ? f : undefined;
}

/**
 * The pipeline for a received study's job, given the folder its payload names (receivedFolderOf); the folder is
 * checked to be a received study folder of this work dir (received-files.ts resolvePayloadDir).
 */
export function dimsePipelineFor(d: DimsePipelineDeps): (dimseFolder: string) => StudyPipeline {
  const files = new ReceivedFiles(d.workDir);
  const sink = dimseReportSink(d.config, d.client, d.workDir);
  return (dimseFolder) =>
    createStudyPipeline({
      source: new FolderStudySource(files.resolvePayloadDir(dimseFolder)),
      sink,
      rules: d.config.selection,
      detector: d.detector,
      findSucceeded: d.findSucceeded,
      succeededForStudy: d.succeededForStudy,
    });
}
