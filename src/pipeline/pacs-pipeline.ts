/** The service's pipeline: the study stages (study-pipeline.ts) reading from and writing to the PACS over DICOMweb. */
import type { LensConfig } from '../config/schema';
import type { OrthancRestConfig } from '../listener/orthanc-rest';
import type { Detector } from '../detect/detector';
import type { Job } from '../jobs/types';
import type { DicomWebClient } from '../pacs/dicomweb';
import { DicomWebStudySource } from '../source/dicomweb-source';
import { DicomWebReportSink } from './report-sink';
import { createStudyPipeline, type StudyPipeline } from './study-pipeline';

export interface PacsPipelineDeps {
  config: Pick<LensConfig, 'selection'>;
  client: DicomWebClient;
  detector: Pick<Detector, 'detect' | 'manifest' | 'reportedModel'>;
  findSucceeded(key: string): Promise<Job | undefined>;
  succeededForStudy?(studyInstanceUID: string): Promise<Job[]>;
  /** Orthanc's REST API (config.orthanc): superseded reports are deleted there. */
  orthanc?: OrthancRestConfig;
}

export function createPacsPipeline(d: PacsPipelineDeps): StudyPipeline {
  return createStudyPipeline({
    source: new DicomWebStudySource(d.client),
    sink: new DicomWebReportSink(d.client, d.orthanc),
    rules: d.config.selection,
    detector: d.detector,
    findSucceeded: d.findSucceeded,
    succeededForStudy: d.succeededForStudy,
  });
}
