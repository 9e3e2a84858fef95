/**
 * A study in a PACS, read over DICOMweb: QIDO-RS series for the summaries, one WADO-RS metadata request per series
 * (the datasets are kept with the headers, so nothing is asked twice), WADO-RS frames for the pixels.
 */
import type { ReadFrame } from '../dicom/assemble-volume';
import { headersFromDatasets, type InstanceHeader } from '../dicom/instance-header';
import { groupBySeries } from '../dicom/series';
import { SERIES_SUMMARY_FIELDS, seriesSummaryFromQido, type DicomWebClient } from '../pacs/dicomweb';
import type { Dataset, SeriesMetadata, SeriesSummary, StudySource } from './study-source';

export class DicomWebStudySource implements StudySource {
  constructor(private readonly client: Pick<DicomWebClient, 'url' | 'frameConcurrency' | 'searchSeries' | 'retrieveSeriesMetadata' | 'retrieveInstanceMetadata' | 'retrieveFrame'>) {}

  get description(): string {
    return `DICOMweb ${this.client.url}`;
  }

  get frameConcurrency(): number {
    return this.client.frameConcurrency;
  }

  async listSeries(studyInstanceUID: string): Promise<SeriesSummary[]> {
    const found = await this.client.searchSeries(studyInstanceUID, SERIES_SUMMARY_FIELDS, { all: true });
    return found.map(seriesSummaryFromQido).filter((s): s is SeriesSummary => !!s);
  }

  async seriesMetadata(studyInstanceUID: string, seriesInstanceUID: string): Promise<SeriesMetadata> {
    const datasets = await this.client.retrieveSeriesMetadata(studyInstanceUID, seriesInstanceUID);
    const { headers, unreadable } = headersFromDatasets(datasets);
    const bySop = new Map<string, Dataset>(datasets.filter((ds) => typeof ds.SOPInstanceUID === 'string').map((ds) => [ds.SOPInstanceUID, ds]));
    return {
      series: groupBySeries(headers)[0] ?? { studyInstanceUID, seriesInstanceUID, modality: '', instances: [] },
      unreadable,
      dataset: async (sop) => {
        const ds = bySop.get(sop);
        if (!ds) throw new Error(`instance ${sop} is not in the metadata of series ${seriesInstanceUID}`);
        return withoutBulkData(ds);
      },
    };
  }

  async instanceMetadata(studyInstanceUID: string, seriesInstanceUID: string, sopInstanceUID: string): Promise<Dataset> {
    return withoutBulkData(await this.client.retrieveInstanceMetadata(studyInstanceUID, seriesInstanceUID, sopInstanceUID));
  }

  frameReader(studyInstanceUID: string, seriesInstanceUID: string, instances: InstanceHeader[]): ReadFrame {
    const bySop = new Map(instances.map((h) => [h.sopInstanceUID, h]));
    return async (sop, frame) => {
      const header = bySop.get(sop);
      if (!header) throw new Error(`instance ${sop} is not among the instances given for series ${seriesInstanceUID}`);
      return this.client.retrieveFrame(studyInstanceUID, seriesInstanceUID, sop, frame, header);
    };
  }
}

/** A copy without PixelData and without attributes whose value is only a bulk data reference. */
function withoutBulkData(ds: Dataset): Dataset {
  const out: Dataset = {};
  for (const [k, v] of Object.entries(ds)) {
    if (k === 'PixelData' || k === 'FloatPixelData' || k === 'DoubleFloatPixelData') continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && ('BulkDataURI' in v || 'InlineBinary' in v)) continue;
    out[k] = v;
  }
  return out;
}
