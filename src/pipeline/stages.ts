/**
 * The typed stages of the analysis pipeline (MONAI Deploy style): each stage is a function from a typed input
 * to a typed output with a name under which the job's journey records it. Only the orchestrator (run-stages.ts)
 * knows more than one stage. Each stage hands the next everything it learnt, so that nothing is read twice:
 * the select stage passes on the chosen series' metadata, the fetch stage reads only frames.
 */
import type { Findings } from '../detect/findings';
import type { LesionMask } from '../detect/lesions';
import type { SeriesInfo } from '../dicom/series';
import type { Volume } from '../dicom/volume';
import type { JobOutputs, StudyInfo } from '../jobs/types';
import type { InstanceSet } from './idempotency';
import type { ReportObject } from '../report';
import type { Dataset, SeriesMetadata } from '../source/study-source';

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
  /** The chosen series' headers (metadata.series). */
  series: SeriesInfo;
  /** The chosen series' metadata as the select stage read it: the fetch stage asks the source only for frames. */
  metadata: SeriesMetadata;
  why: string;
  /** What the selection rules tolerated about the chosen series; the volume carries it on (Volume.tolerated). */
  tolerated: string[];
  modelVersion: string;
  idempotencyKey: string;
  /** The chosen series' instances as the key counts them (their number and a digest of their SOP Instance UIDs). */
  instances: InstanceSet;
  /**
   * Set when the study was analysed before by this model under another key: why again, and the outputs of its
   * earlier analyses (newest first) that the new report supersedes.
   */
  reanalysis?: { why: string; previousJobId: number; supersedes: JobOutputs[] };
  /** Every other series of the study with the reasons it was not chosen (modality, selection rules, ranking). */
  rejected: { seriesInstanceUID: string; reasons: string[] }[];
  /** What the dashboard shows of the study (never in the journey: describe() leaves it out). */
  study?: StudyInfo;
}

export interface FetchedVolume {
  selection: SelectedSeries;
  volume: Volume;
  /** The volume's first slice's dataset without bulk data: patient/study modules for SR/SEG. */
  sourceDataset: Dataset;
  /** Notes of the volume assembly (resampling, corrected tilt). */
  notes: string[];
}

/** Lesion id -> the model's per-slice mask, as the detector returns it. */
export type LesionMasks = Map<number, LesionMask>;

export interface Detection {
  fetched: FetchedVolume;
  findings: Findings;
  masks?: LesionMasks;
}

/** The SR and SEG ready to store, as Part 10 buffers with their identity (none when the report is not wanted). */
export interface ReportObjects {
  detection: Detection;
  objects: ReportObject[];
  outputs: JobOutputs;
}

export interface StoredReport {
  report: ReportObjects;
  outputs: JobOutputs;
  /** Where the sink put the findings and objects: file paths, or the PACS' series. */
  locations: string[];
  /** How the peer confirmed the report, where the sink says (storage commitment: docs/dimse.md). */
  confirmation?: Record<string, unknown>;
  /** A re-analysis: earlier report series removed from the PACS, and those kept (no way to remove, or it failed). */
  superseded?: { removed: string[]; kept: string[] };
}
