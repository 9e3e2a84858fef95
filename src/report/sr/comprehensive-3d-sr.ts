/**
 * The Comprehensive 3D SR IOD (PS3.3 A.35.13) around a content tree: SR Document Series, General Equipment,
 * SR Document General and Content modules, Patient/Study copied from the source. Only 2D SCOORDs are used
 * (OHIF draws nothing for SCOORD3D, docs/contracts.md#dicom-output), so no Frame of Reference module is needed.
 */
import { ContainerContentItem, type ImageReference } from './content-items';
import { patientStudyModules } from '../source-modules';
import { assertUid } from '../uid';
import { dicomDateTime, fitText } from '../../dicom/vr';

export const COMPREHENSIVE_3D_SR_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.88.34';

export interface EvidenceSeries {
  seriesInstanceUID: string;
  images: ImageReference[];
}

export class Comprehensive3DSR {
  readonly dataset: Record<string, any>;
  constructor(opts: {
    sourceDataset: Record<string, any>;
    content: ContainerContentItem;
    evidence: EvidenceSeries[];
    seriesInstanceUID: string;
    sopInstanceUID: string;
    seriesNumber: number;
    instanceNumber: number;
    seriesDescription: string;
    manufacturer: string;
    modelName: string;
    softwareVersion: string;
    contentDate?: Date;
    /**
     * Earlier SRs (same study) whose content this one includes with modification: a re-analysis' report names
     * the report it supersedes (PS3.3 C.17.2, Predecessor Documents Sequence, Hierarchical SOP Instance Reference).
     */
    predecessors?: { seriesInstanceUID: string; sopInstanceUID: string }[];
  }) {
    if (!(opts.content instanceof ContainerContentItem) || opts.content.relationshipType) {
      throw new Error('Comprehensive3DSR: content must be a root CONTAINER (no relationship type)');
    }
    assertUid(opts.seriesInstanceUID, 'SR SeriesInstanceUID');
    assertUid(opts.sopInstanceUID, 'SR SOPInstanceUID');
    if (!Array.isArray(opts.evidence) || opts.evidence.length === 0 || opts.evidence.some((s) => s.images.length === 0)) {
      throw new Error('Comprehensive3DSR: evidence must list at least one referenced image per series');
    }
    const study = patientStudyModules(opts.sourceDataset);
    const { date, time } = dicomDateTime(opts.contentDate ?? new Date());
    const root = opts.content.toDataset();
    this.dataset = {
      SpecificCharacterSet: 'ISO_IR 192',
      SOPClassUID: COMPREHENSIVE_3D_SR_SOP_CLASS,
      SOPInstanceUID: opts.sopInstanceUID,
      ...study,
      Modality: 'SR',
      SeriesInstanceUID: opts.seriesInstanceUID,
      SeriesNumber: opts.seriesNumber,
      SeriesDescription: fitText('LO', opts.seriesDescription),
      SeriesDate: date,
      SeriesTime: time,
      ReferencedPerformedProcedureStepSequence: [],
      Manufacturer: fitText('LO', opts.manufacturer),
      ManufacturerModelName: fitText('LO', opts.modelName),
      SoftwareVersions: fitText('LO', opts.softwareVersion),
      InstanceNumber: opts.instanceNumber,
      CompletionFlag: 'COMPLETE',
      VerificationFlag: 'UNVERIFIED',
      ContentDate: date,
      ContentTime: time,
      InstanceCreationDate: date,
      InstanceCreationTime: time,
      PerformedProcedureCodeSequence: [],
      CurrentRequestedProcedureEvidenceSequence: [
        {
          StudyInstanceUID: study.StudyInstanceUID,
          ReferencedSeriesSequence: opts.evidence.map((s) => ({
            SeriesInstanceUID: assertUid(s.seriesInstanceUID, 'evidence SeriesInstanceUID'),
            ReferencedSOPSequence: dedupe(s.images).map((r) => ({ ReferencedSOPClassUID: r.sopClassUID, ReferencedSOPInstanceUID: r.sopInstanceUID })),
          })),
        },
      ],
      ...(opts.predecessors?.length
        ? {
            PredecessorDocumentsSequence: [
              {
                StudyInstanceUID: study.StudyInstanceUID,
                ReferencedSeriesSequence: opts.predecessors.map((p) => ({
                  SeriesInstanceUID: assertUid(p.seriesInstanceUID, 'predecessor SeriesInstanceUID'),
                  ReferencedSOPSequence: [{ ReferencedSOPClassUID: COMPREHENSIVE_3D_SR_SOP_CLASS, ReferencedSOPInstanceUID: assertUid(p.sopInstanceUID, 'predecessor SOPInstanceUID') }],
                })),
              },
            ],
          }
        : {}),
      ValueType: root.ValueType,
      ConceptNameCodeSequence: root.ConceptNameCodeSequence,
      ContinuityOfContent: root.ContinuityOfContent,
      ContentTemplateSequence: root.ContentTemplateSequence,
      ContentSequence: root.ContentSequence,
    };
  }
}

function dedupe(images: ImageReference[]): ImageReference[] {
  const seen = new Map<string, ImageReference>();
  for (const r of images) seen.set(r.sopInstanceUID, r);
  return [...seen.values()];
}
