/** findings.json -> TID 1500 Imaging Measurement Report in a Comprehensive 3D SR (design.md §5). */
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
  TrackingIdentifier,
} from './sr/templates';
import { Comprehensive3DSR } from './sr/comprehensive-3d-sr';
import { imageRef, keySliceRef, modelLabel, validateReportInput, type ReportInput } from './inputs';
import { reportUids } from './uid';

export const SR_SERIES_NUMBER = 9001;
export const MANUFACTURER = 'lens-pacs';

/** "Lesion 3 (liver lesion)": the SR group's Tracking Identifier and the SEG segment's label and TrackingID. */
export function lesionLabel(l: { id: number; type: string }): string {
  return `Lesion ${l.id} (${lesionTypeLabel(l.type)})`;
}

export function srSeriesDescription(input: Pick<ReportInput, 'findings'>): string {
  return `LENS lesions (${modelLabel(input.findings)})`.slice(0, 64);
}

export function buildImagingMeasurementReport(input: ReportInput): { dataset: Record<string, any>; sopInstanceUID: string; seriesInstanceUID: string } {
  validateReportInput(input);
  const { findings, volume } = input;
  const uids = reportUids(volume.seriesInstanceUID, findings.model);
  const algorithm = () => new AlgorithmIdentification({ name: findings.model.name, version: findings.model.version });

  const keyImages: ImageReference[] = [];
  const groups = findings.lesions.map((l) => {
    const key = keySliceRef(volume, l);
    keyImages.push(key);
    return new PlanarROIMeasurementsAndQualitativeEvaluations({
      trackingIdentifier: new TrackingIdentifier(l.trackingUid, lesionLabel(l)),
      findingSite: findingSiteFor(l.type),
      algorithm: algorithm(),
      referencedRegion: new ImageRegion(l.keySlice.box, key),
      measurements: [
        new Measurement(codes.LongAxis, round(l.longAxisMm, 2), codes.Millimeter),
        new Measurement(codes.ShortAxis, round(l.shortAxisMm, 2), codes.Millimeter),
        new Measurement(codes.DetectionScore, round(l.score, 4), codes.NoUnits),
      ],
    });
  });

  // With no lesion the report still says that the algorithm ran, and on which images.
  const library = keyImages.length > 0 ? keyImages : [imageRef(volume, volume.slices[Math.floor(volume.slices.length / 2)])];
  const noFindings =
    findings.lesions.length === 0
      ? [
          new CodeContentItem(codes.CADProcessingAndFindingsSummary, codes.AllAlgorithmsSucceededWithoutFindings, 'CONTAINS'),
          new TextContentItem(codes.Finding, `No lesion detected by ${modelLabel(findings)}`, 'CONTAINS'),
        ]
      : undefined;

  const report = new ImagingMeasurementReport({
    observerContext: new ObserverContext(
      new DeviceObserverContext({ uid: uids.deviceObserver, name: findings.model.name, manufacturer: MANUFACTURER, modelName: modelLabel(findings) }),
    ),
    procedureReported: codes.CTUnspecifiedBodyRegion,
    imageLibrary: new ImageLibrary(dedupeRefs(library)),
    measurementGroups: groups,
    qualitativeEvaluations: noFindings,
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
