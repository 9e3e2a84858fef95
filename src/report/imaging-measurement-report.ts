/** findings.json -> TID 1500 Imaging Measurement Report in a Comprehensive 3D SR (docs/contracts.md#dicom-output). */
import { codes, findingSiteFor, lesionTypeLabel } from './codes';
import { TextContentItem, CodeContentItem, type ImageReference } from './sr/content-items';
import {
  AlgorithmIdentification,
  DeviceObserverContext,
  ImageLibrary,
  ImageRegion,
  ImagingMeasurementReport,
  Measurement,
  ObserverContext,
  PlanarROIMeasurementsAndQualitativeEvaluations,
  SourceOfMeasurement,
  TrackingIdentifier,
} from './sr/templates';
import { Comprehensive3DSR } from './sr/comprehensive-3d-sr';
import { analysedComment, imageRef, keySliceRef, modelLabel, validateReportInput, type ReportInput } from './inputs';
import { reportUids } from './uid';
import { fitText } from '../dicom/vr';

export const SR_SERIES_NUMBER = 9001;
export const MANUFACTURER = 'lens-pacs';

/** "Lesion 3 (liver lesion)": the SR group's Tracking Identifier and the SEG segment's label and TrackingID. */
export function lesionLabel(l: { id: number; type: string }): string {
  return `Lesion ${l.id} (${lesionTypeLabel(l.type)})`;
}

/** "Lesion 3 (liver lesion): 21.4 x 17.9 mm": the group's Comment, the label OHIF lists the finding under. */
export function lesionSummary(l: { id: number; type: string; longAxisMm: number; shortAxisMm: number }): string {
  return `${lesionLabel(l)}: ${l.longAxisMm.toFixed(1)} x ${l.shortAxisMm.toFixed(1)} mm`;
}

export function srSeriesDescription(input: Pick<ReportInput, 'findings'>): string {
  return fitText('LO', `LENS lesions (${modelLabel(input.findings)})`);
}

/** "Tolerated in the source series: slice thickness 8 mm ...": a TEXT Comment in the Qualitative Evaluations. */
export function toleratedComment(note: string): string {
  return `Tolerated in the source series: ${note}`;
}

export function buildImagingMeasurementReport(input: ReportInput): { dataset: Record<string, any>; sopInstanceUID: string; seriesInstanceUID: string } {
  validateReportInput(input);
  const { findings, volume } = input;
  const uids = reportUids(volume.seriesInstanceUID, findings.model, input.analysis?.instancesDigest);
  const algorithm = () => new AlgorithmIdentification({ name: findings.model.name, version: findings.model.version });

  const keyImages: ImageReference[] = [];
  const groups = findings.lesions.map((l) => {
    const key = keySliceRef(volume, l);
    keyImages.push(key);
    const region = new ImageRegion(l.keySlice.box, key);
    // The axes name the box they were measured on. Cornerstone's SR adapters (OHIF's measurement panel) take a
    // group's geometry from its FIRST NUM's INFERRED FROM SCOORD and skip the group when that NUM has none.
    const source = new SourceOfMeasurement(region);
    return new PlanarROIMeasurementsAndQualitativeEvaluations({
      trackingIdentifier: new TrackingIdentifier(l.trackingUid, lesionLabel(l)),
      findingSite: findingSiteFor(l.type),
      algorithm: algorithm(),
      referencedRegion: region,
      // OHIF shows a group's Comment as the measurement's label in its measurement panel.
      comment: lesionSummary(l),
      measurements: [
        new Measurement(codes.LongAxis, round(l.longAxisMm, 2), codes.Millimeter, { source }),
        new Measurement(codes.ShortAxis, round(l.shortAxisMm, 2), codes.Millimeter, { source }),
        new Measurement(codes.DetectionScore, round(l.score, 4), codes.NoUnits),
      ],
    });
  });

  // With no lesion the report still says that the algorithm ran, and on which images.
  const library = keyImages.length > 0 ? keyImages : [imageRef(volume, volume.slices[Math.floor(volume.slices.length / 2)])];
  const evaluations: (CodeContentItem | TextContentItem)[] =
    findings.lesions.length === 0
      ? [
          new CodeContentItem(codes.CADProcessingAndFindingsSummary, codes.AllAlgorithmsSucceededWithoutFindings, 'CONTAINS'),
          new TextContentItem(codes.Finding, `No lesion detected by ${modelLabel(findings)}`, 'CONTAINS'),
        ]
      : [];
  // What the volume's assembly tolerated (thick slices, ...) qualifies every finding, so the reader sees it next
  // to them; the measurement groups keep their shape (OHIF hydrates them, docs/report.md).
  for (const note of (volume.tolerated ?? []).filter((n) => n.trim())) evaluations.push(new TextContentItem(codes.Comment, toleratedComment(note), 'CONTAINS'));
  // Which series and how many of its slices this report covers: a series completed later gets a new report.
  if (input.analysis) {
    const n = Number(input.sourceDataset.SeriesNumber);
    evaluations.push(new TextContentItem(codes.Comment, analysedComment(volume, Number.isInteger(n) ? n : undefined), 'CONTAINS'));
  }

  const report = new ImagingMeasurementReport({
    observerContext: new ObserverContext(
      new DeviceObserverContext({ uid: uids.deviceObserver, name: findings.model.name, manufacturer: MANUFACTURER, modelName: modelLabel(findings) }),
    ),
    procedureReported: codes.CTUnspecifiedBodyRegion,
    imageLibrary: new ImageLibrary(dedupeRefs(library)),
    measurementGroups: groups,
    qualitativeEvaluations: evaluations,
  });

  const sr = new Comprehensive3DSR({
    sourceDataset: input.sourceDataset,
    content: report.root,
    evidence: [{ seriesInstanceUID: volume.seriesInstanceUID, images: library }],
    seriesInstanceUID: uids.srSeries,
    sopInstanceUID: uids.srInstance,
    seriesNumber: SR_SERIES_NUMBER,
    instanceNumber: 1,
    seriesDescription: srSeriesDescription(input),
    manufacturer: MANUFACTURER,
    modelName: findings.model.name,
    softwareVersion: findings.model.version,
    contentDate: input.contentDate,
    predecessors: input.analysis?.predecessors?.filter((p) => p.sopInstanceUID !== uids.srInstance),
  });
  return { dataset: sr.dataset, sopInstanceUID: uids.srInstance, seriesInstanceUID: uids.srSeries };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function dedupeRefs(refs: ImageReference[]): ImageReference[] {
  const m = new Map<string, ImageReference>();
  for (const r of refs) m.set(`${r.sopInstanceUID}/${r.frameNumber ?? ''}`, r);
  return [...m.values()];
}
