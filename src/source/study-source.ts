/**
 * The one way the pipeline stages read a study, whatever holds it: a PACS over DICOMweb, a folder of files (and
 * later a C-STORE receiver or the archive harvester). A source answers three questions, cheapest first, so that a
 * stage asks only what it needs: which series the study has (QIDO-like summaries, no instance read), what one
 * series' instances are (metadata, no pixel data), and the pixels of one frame.
 */
import type { ReadFrame } from '../dicom/assemble-volume';
import type { InstanceHeader, UnreadableInstance } from '../dicom/instance-header';
import type { SeriesInfo } from '../dicom/series';

/** A naturalized dataset (dcmjs keywords as keys) without pixel data or other bulk data. */
export type Dataset = Record<string, any>;

/** What a source tells about one series without reading its instances (QIDO-RS series level). */
export interface SeriesSummary {
  seriesInstanceUID: string;
  modality?: string;
  seriesDescription?: string;
  manufacturer?: string;
  numberOfInstances?: number;
}

/** One series' metadata, read once: the stages that follow use it instead of asking the source again. */
export interface SeriesMetadata {
  /** The series' image instances as headers. */
  series: SeriesInfo;
  /** Instances that are not usable images, with the reason (logged and counted, never fatal). */
  unreadable: UnreadableInstance[];
  /**
   * The dataset of one of the series' instances. A source that received every dataset with the metadata
   * (DICOMweb) answers from memory; one that did not keep them (a folder) reads that one instance's header.
   */
  dataset(sopInstanceUID: string): Promise<Dataset>;
}

export interface StudySource {
  /** For messages: "DICOMweb http://127.0.0.1:8042/dicom-web", "folder /data/study". */
  readonly description: string;
  /** Frames read at the same time at most when a volume is assembled (undefined: assembleVolume's default). */
  readonly frameConcurrency?: number;
  /** Every series of the study, with what is known without reading instances. */
  listSeries(studyInstanceUID: string): Promise<SeriesSummary[]>;
  /** The metadata of every instance of one series (DICOMweb: one WADO-RS metadata request). */
  seriesMetadata(studyInstanceUID: string, seriesInstanceUID: string): Promise<SeriesMetadata>;
  /** The metadata of one instance (a key slice picture needs no more than that). */
  instanceMetadata(studyInstanceUID: string, seriesInstanceUID: string, sopInstanceUID: string): Promise<Dataset>;
  /** Reads frames of the given instances of a series (stored values, no rescale), as assembleVolume wants them. */
  frameReader(studyInstanceUID: string, seriesInstanceUID: string, instances: InstanceHeader[]): ReadFrame;
}
