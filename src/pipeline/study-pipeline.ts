/**
 * The stages of one analysis, wired to a study source, the detector, the report builders and a report sink. The
 * service wires a PACS (pacs-pipeline.ts); `lens detect` a folder and a file sink: the same stages either way.
 *   selected  the source's series list + each candidate's metadata -> selection rules, own-output, idempotency
 *   fetched   the source's frames of the chosen series -> HU volume
 *   detected  the ONNX detector
 *   built     TID 1500 SR + SEG (Part 10), unless the report is not wanted
 *   stored    the sink: STOW-RS + read-back (service), or findings.json, sr.dcm, seg.dcm (`lens detect`)
 */
import type { SelectionRules } from '../config/schema';
import type { Detector } from '../detect/detector';
import { assembleVolume } from '../dicom/assemble-volume';
import { selectSeries } from '../dicom/select-series';
import type { Job } from '../jobs/types';
import { log } from '../log';
import { buildReportObjects, type StoredReportFound } from '../report';
import { reportUids } from '../report/uid';
import type { StudySource } from '../source/study-source';
import type { ReportSink } from './report-sink';
import { selectStage } from './select-stage';
import type { Detection, FetchedVolume, ReceivedStudy, ReportObjects, SelectedSeries, Stage, StoredReport } from './stages';

export interface StudyPipeline {
  select: Stage<ReceivedStudy, SelectedSeries>;
  fetch: Stage<SelectedSeries, FetchedVolume>;
  detect: Stage<FetchedVolume, Detection>;
  build: Stage<Detection, ReportObjects>;
  store: Stage<ReportObjects, StoredReport>;
  /**
   * The report of this selection as the sink already holds it (undefined: not there, or the sink cannot tell),
   * under the UIDs the build stage derives (report/uid.ts) for the model the detector reports.
   */
  findStored?(selected: SelectedSeries): Promise<StoredReportFound | undefined>;
}

export interface StudyPipelineDeps {
  source: StudySource;
  sink: ReportSink;
  rules: SelectionRules;
  /** reportedModel: the model findings name (default: the manifest's name and version). */
  detector: Pick<Detector, 'detect' | 'manifest'> & Partial<Pick<Detector, 'reportedModel'>>;
  /** A job that succeeded with this idempotency key (`lens detect`: none, every run analyses). */
  findSucceeded(key: string): Promise<Job | undefined>;
  /** The study's successful analyses, newest first: a re-analysis supersedes their reports (select-stage.ts). */
  succeededForStudy?(studyInstanceUID: string): Promise<Job[]>;
  /** False: no SR/SEG are built, the sink gets the findings alone (`lens detect --no-report`). Default true. */
  report?: boolean;
}

export function modelVersionOf(manifest: Pick<Detector['manifest'], 'name' | 'version'>): string {
  return `${manifest.name}-${manifest.version}`;
}

/** Stage "fetched": only the frames of the chosen series are read; its metadata came with the selection. */
export function fetchStage(source: Pick<StudySource, 'frameReader' | 'frameConcurrency'>): Stage<SelectedSeries, FetchedVolume> {
  return {
    name: 'fetched',
    describe: (f) => ({
      slices: f.volume.dims[2],
      dims: f.volume.dims,
      spacing: f.volume.spacing.map((v) => +v.toFixed(3)),
      ...(f.volume.tolerated?.length ? { tolerated: f.volume.tolerated } : {}),
      ...(f.notes.length ? { notes: f.notes } : {}),
    }),
    async run(selection) {
      const notes: string[] = [];
      const { studyInstanceUID, series } = selection;
      const volume = await assembleVolume(series, source.frameReader(studyInstanceUID, series.seriesInstanceUID, series.instances), {
        concurrency: source.frameConcurrency,
        tolerated: selection.tolerated,
        onNote: (n) => notes.push(n),
      });
      if (notes.length) log.info('volume notes', { studyInstanceUID, notes });
      const sourceDataset = await selection.metadata.dataset(volume.slices[0].sopInstanceUID);
      return { selection, volume, sourceDataset, notes };
    },
  };
}

export function createStudyPipeline(d: StudyPipelineDeps): StudyPipeline {
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
    describe: (r) => ({ objects: r.objects.map((o) => ({ role: o.role, sopInstanceUID: o.sopInstanceUID, bytes: o.part10.length })) }),
    async run(detection) {
      if (d.report === false) return { detection, objects: [], outputs: {} };
      const selection = detection.fetched.selection;
      const objects = buildReportObjects({
        findings: detection.findings,
        volume: detection.fetched.volume,
        sourceDataset: detection.fetched.sourceDataset,
        masks: detection.masks,
        analysis: {
          instancesDigest: selection.instances.digest,
          // The latest earlier SR: it superseded the ones before it (a chain, like amended reports).
          predecessors: (selection.reanalysis?.supersedes ?? []).slice(0, 1).flatMap((o) =>
            o.srSeriesUID && o.srSopInstanceUID ? [{ seriesInstanceUID: o.srSeriesUID, sopInstanceUID: o.srSopInstanceUID }] : []),
        },
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
    describe: (s) => ({ ...s.outputs, ...(s.confirmation ? { confirmation: s.confirmation } : {}), ...(s.superseded ? { superseded: s.superseded } : {}) }),
    async run(report) {
      const { locations, confirmation } = await d.sink.store(report);
      const { studyInstanceUID, reanalysis } = report.detection.fetched.selection;
      const current = new Set([report.outputs.srSeriesUID, report.outputs.segSeriesUID]);
      const old = [...new Set((reanalysis?.supersedes ?? []).flatMap((o) => [o.srSeriesUID, o.segSeriesUID]))].filter(
        (uid): uid is string => !!uid && !current.has(uid),
      );
      if (!old.length || report.objects.length === 0) return { report, outputs: report.outputs, locations, confirmation };
      const superseded = d.sink.removeSuperseded ? await d.sink.removeSuperseded(studyInstanceUID, old) : { removed: [], kept: old };
      return { report, outputs: report.outputs, locations, confirmation, superseded };
    },
  };
  return {
    select: selectStage({
      modelVersion: modelVersionOf(d.detector.manifest),
      rules: d.rules,
      source: d.source,
      selectSeries: (series, r) => selectSeries(series, r),
      findSucceeded: d.findSucceeded,
      succeededForStudy: d.succeededForStudy,
    }),
    fetch: fetchStage(d.source),
    detect,
    build,
    store,
    findStored: d.sink.findStored && d.report !== false
      ? (s) => d.sink.findStored!(s.studyInstanceUID, reportUids(s.series.seriesInstanceUID, d.detector.reportedModel?.() ?? d.detector.manifest, s.instances.digest))
      : undefined,
  };
}
