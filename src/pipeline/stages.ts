/**
 * The typed stages of the analysis pipeline (MONAI Deploy style): each stage is a function from a typed input
 * to a typed output with a name under which the job's journey records it. Only the orchestrator (run-job.ts)
 * knows more than one stage.
 */
import type { Findings } from '../detect/findings';
import type { SeriesInfo } from '../dicom/series';
import type { Volume } from '../dicom/volume';
import type { JobOutputs } from '../jobs/types';

export type StageName = 'selected' | 'fetched' | 'detected' | 'built' | 'stored';

export interface Stage<I, O> {
  readonly name: StageName;
  run(input: I): Promise<O>;
  /** Journey details of the output: UIDs, counts and reasons, never patient data. */
  describe(output: O): Record<string, unknown>;
}

/** The study the job is about. */
export interface ReceivedStudy {
  studyInstanceUID: string;
  /** A manual re-run ignores idempotency. */
  force: boolean;
}

export interface SelectedSeries {
  studyInstanceUID: string;
  series: SeriesInfo;
  why: string;
  modelVersion: string;
  idempotencyKey: string;
  rejected: { seriesInstanceUID: string; reasons: string[] }[];
}

export interface FetchedVolume {
  selection: SelectedSeries;
  volume: Volume;
  /** Naturalized dataset of one source instance without pixel data: patient/study modules for SR/SEG. */
  sourceDataset: Record<string, unknown>;
}

/** Lesion id -> mask, as the detector returns it (opaque to the service). */
export type LesionMasks = Map<number, unknown>;

export interface Detection {
  fetched: FetchedVolume;
  findings: Findings;
  masks?: LesionMasks;
}

/** The SR and SEG ready to store, as Part 10 buffers with their identity. */
export interface ReportObjects {
  detection: Detection;
  objects: unknown;
  outputs: JobOutputs;
}

export interface StoredReport {
  report: ReportObjects;
  outputs: JobOutputs;
}
