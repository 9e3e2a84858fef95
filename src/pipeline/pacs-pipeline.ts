/**
 * The real stages, wired to the PACS (DICOMweb), the detector and the report builders:
 *   selected  QIDO-RS series + WADO-RS metadata -> selection rules, own-output and idempotency checks
 *   fetched   WADO-RS frames -> HU volume (loadSeriesFromPacs)
 *   detected  the ONNX detector
 *   built     TID 1500 SR + SEG (Part 10)
 *   stored    STOW-RS into the study, read back and verified
 */
import type { LensConfig } from '../config/schema';
import type { Detector } from '../detect/detector';
import { headerFromDataset, type InstanceHeader } from '../dicom/instance-header';
import { selectSeries } from '../dicom/select-series';
import { groupBySeries, type SeriesInfo } from '../dicom/series';
import type { Job } from '../jobs/types';
import { log } from '../log';
import type { DicomJson, DicomWebClient } from '../pacs/dicomweb';
import { loadSeriesFromPacs } from '../pacs/load-series';
import { buildReportObjects, storeAndVerify, type ReportObject } from '../report';
import type { SeriesSummary } from './own-outputs';
import type { StudyPipeline } from './run-job';
import { selectStage } from './select-stage';
import type { Detection, FetchedVolume, ReportObjects, SelectedSeries, Stage, StoredReport } from './stages';

const first = (ds: DicomJson, tag: string) => ds[tag]?.Value?.[0] as string | undefined;

export async function listStudySeries(client: DicomWebClient, studyUID: string): Promise<SeriesSummary[]> {
  const found = await client.searchSeries(studyUID, { includefield: '00080070' }, { all: true });
  return found
    .map((s) => ({
      seriesInstanceUID: first(s, '0020000E') ?? '',
      modality: first(s, '00080060'),
      seriesDescription: first(s, '0008103E'),
      manufacturer: first(s, '00080070'),
      numberOfInstances: Number(first(s, '00201209') ?? NaN) || undefined,
    }))
    .filter((s) => s.seriesInstanceUID);
}

/** A series' image headers from WADO-RS metadata; instances whose metadata is not an image are left out. */
export async function seriesInfoFromPacs(client: DicomWebClient, studyUID: string, seriesUID: string): Promise<SeriesInfo> {
  const headers: InstanceHeader[] = [];
  let unreadable = 0;
  for (const ds of await client.retrieveSeriesMetadata(studyUID, seriesUID)) {
    try {
      headers.push(headerFromDataset(ds));
    } catch {
      unreadable++;
    }
  }
  if (unreadable) log.warn('instances with unreadable metadata', { studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, unreadable });
  return groupBySeries(headers)[0] ?? { studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, modality: '', instances: [] };
}

export interface PacsPipelineDeps {
  config: Pick<LensConfig, 'selection'>;
  client: DicomWebClient;
  detector: Pick<Detector, 'detect' | 'manifest'>;
  findSucceeded(key: string): Job | undefined;
}

export function createPacsPipeline(d: PacsPipelineDeps): StudyPipeline {
  const rules = d.config.selection;
  const fetch: Stage<SelectedSeries, FetchedVolume> = {
    name: 'fetched',
    describe: (f) => ({ slices: f.volume.dims[2], dims: f.volume.dims, spacing: f.volume.spacing.map((v) => +v.toFixed(3)) }),
    async run(selection) {
      const notes: string[] = [];
      const loaded = await loadSeriesFromPacs(d.client, selection.studyInstanceUID, selection.series.seriesInstanceUID, rules, {
        onNote: (n) => notes.push(n),
      });
      if (notes.length) log.info('volume notes', { studyInstanceUID: selection.studyInstanceUID, notes });
      return { selection, volume: loaded.volume, sourceDataset: loaded.firstDataset };
    },
  };
  const detect: Stage<FetchedVolume, Detection> = {
    name: 'detected',
    describe: (r) => ({
      lesions: r.findings.lesions.length,
      executionProvider: r.findings.model.executionProvider,
      model: `${r.findings.model.name} ${r.findings.model.version}`,
      timingsMs: r.findings.timingsMs,
    }),
    async run(fetched) {
      const r = await d.detector.detect(fetched.volume);
      return { fetched, findings: r.findings, masks: r.masks };
    },
  };
  const build: Stage<Detection, ReportObjects> = {
    name: 'built',
    describe: (r) => ({ objects: (r.objects as ReportObject[]).map((o) => ({ role: o.role, sopInstanceUID: o.sopInstanceUID, bytes: o.part10.length })) }),
    async run(detection) {
      const objects = buildReportObjects({
        findings: detection.findings,
        volume: detection.fetched.volume,
        sourceDataset: detection.fetched.sourceDataset,
        masks: detection.masks as never,
      });
      const sr = objects.find((o) => o.role === 'sr');
      const seg = objects.find((o) => o.role === 'seg');
      return {
        detection,
        objects,
        outputs: { srSeriesUID: sr?.seriesInstanceUID, srSopInstanceUID: sr?.sopInstanceUID, segSeriesUID: seg?.seriesInstanceUID, segSopInstanceUID: seg?.sopInstanceUID },
      };
    },
  };
  const store: Stage<ReportObjects, StoredReport> = {
    name: 'stored',
    describe: (s) => ({ ...s.outputs }),
    async run(report) {
      await storeAndVerify(d.client, report.objects as ReportObject[]);
      return { report, outputs: report.outputs };
    },
  };
  return {
    select: selectStage({
      modelVersion: `${d.detector.manifest.name}-${d.detector.manifest.version}`,
      rules,
      listSeries: (study) => listStudySeries(d.client, study),
      seriesInfo: (study, series) => seriesInfoFromPacs(d.client, study, series),
      selectSeries: (series, r) => selectSeries(series, r),
      findSucceeded: d.findSucceeded,
    }),
    fetch,
    detect,
    build,
    store,
  };
}
