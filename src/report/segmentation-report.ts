/** findings (+ model masks) -> one BINARY SEG with a segment per lesion, linked to the SR by Tracking UID. */
import { codes, findingSiteFor } from './codes';
import { lesionLabel, MANUFACTURER } from './imaging-measurement-report';
import { modelLabel, validateReportInput, type ReportInput } from './inputs';
import { ellipsoidInBox, masksFromModel } from './seg/masks';
import { SegmentDescription, Segmentation } from './seg/segmentation';
import { reportUids } from './uid';
import { fitText } from '../dicom/vr';

export const SEG_SERIES_NUMBER = 9002;

/** Says where the masks come from: all from the model, all box-fitted, or mixed. */
export function maskSource(input: Pick<ReportInput, 'findings' | 'masks'>): 'model mask' | 'box-fitted ellipsoid' | 'model mask + box-fitted ellipsoid' {
  const withMask = input.findings.lesions.filter((l) => input.masks?.has(l.id)).length;
  if (withMask === 0) return 'box-fitted ellipsoid';
  return withMask === input.findings.lesions.length ? 'model mask' : 'model mask + box-fitted ellipsoid';
}

export function segSeriesDescription(input: Pick<ReportInput, 'findings' | 'masks'>): string {
  return fitText('LO', `LENS lesions, ${maskSource(input)} (${modelLabel(input.findings)})`);
}

/** undefined when there is no lesion: a SEG needs at least one segment; the SR alone then says nothing was found. */
export function buildSegmentation(input: ReportInput): { dataset: Record<string, any>; sopInstanceUID: string; seriesInstanceUID: string; numberOfFrames: number } | undefined {
  validateReportInput(input);
  const { findings, volume } = input;
  if (findings.lesions.length === 0) return undefined;
  const uids = reportUids(volume.seriesInstanceUID, findings.model, input.analysis?.instancesDigest);
  const segments = findings.lesions.map((l, idx) => {
    const site = findingSiteFor(l.type);
    const model = input.masks?.get(l.id);
    return {
      description: new SegmentDescription(
        idx + 1,
        lesionLabel(l),
        codes.MorphologicallyAbnormalStructure,
        codes.Lesion,
        { name: findings.model.name, version: findings.model.version },
        { id: lesionLabel(l), uid: l.trackingUid },
        site,
      ),
      masks: model ? masksFromModel(volume, l.id, model) : ellipsoidInBox(volume, l.bboxLPS),
    };
  });
  const thickness = Number(input.sourceDataset.SliceThickness);
  const seg = new Segmentation({
    sourceDataset: input.sourceDataset,
    volume,
    segments,
    seriesInstanceUID: uids.segSeries,
    sopInstanceUID: uids.segInstance,
    dimensionOrganizationUID: uids.dimensionOrganization,
    seriesNumber: SEG_SERIES_NUMBER,
    instanceNumber: 1,
    seriesDescription: segSeriesDescription(input),
    contentLabel: 'LESIONS',
    // The mask source before the model: with a long model label, the cut takes the end of the label.
    contentDescription: `Lesions: ${maskSource(input)} by ${modelLabel(findings)}`,
    manufacturer: MANUFACTURER,
    modelName: findings.model.name,
    softwareVersion: findings.model.version,
    sliceThickness: Number.isFinite(thickness) && thickness > 0 ? thickness : undefined,
    contentDate: input.contentDate,
  });
  return { dataset: seg.dataset, sopInstanceUID: uids.segInstance, seriesInstanceUID: uids.segSeries, numberOfFrames: seg.numberOfFrames };
}
