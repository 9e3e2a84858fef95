/**
 * The Segmentation IOD (PS3.3 A.51), BINARY, after highdicom's seg.Segmentation: built from dcmjs primitives
 * rather than dcmjs's derivation, which hard-codes RESEARCH / "NOT FOR CLINICAL USE", reorders frames and
 * truncates multi-buffer pixel data (docs/contracts.md#third-party-behaviour).
 */
import { CodedConcept, codes } from '../codes';
import type { Volume } from '../../dicom/volume';
import { patientStudyModules } from '../source-modules';
import { assertUid } from '../uid';
import { checkValue, dicomDateTime, fitText, formatDS } from '../../dicom/vr';
import { imageRef } from '../inputs';
import { packBits, type SliceMask } from './masks';
import { rgbToDicomLab, segmentRgb } from './colors';

export const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

/** One segment of the SegmentSequence, validated (PS3.3 C.8.20.2 Segment Description Macro). */
export class SegmentDescription {
  constructor(
    readonly number: number,
    readonly label: string,
    readonly category: CodedConcept,
    readonly type: CodedConcept,
    readonly algorithm: { name: string; version: string; family?: CodedConcept },
    readonly tracking: { id: string; uid: string },
    readonly anatomicRegion?: CodedConcept,
  ) {
    if (!Number.isInteger(number) || number < 1 || number > 65535) throw new Error(`segment number must be 1..65535 (got ${number})`);
    if (typeof label !== 'string' || label.trim().length === 0) throw new Error(`segment ${number}: a label is required`);
    if (!(category instanceof CodedConcept) || !(type instanceof CodedConcept)) throw new Error(`segment ${number}: category and type must be CodedConcepts`);
    if (!algorithm?.name || !algorithm?.version) throw new Error(`segment ${number}: algorithm name and version are required`);
    if (!tracking?.id) throw new Error(`segment ${number}: tracking ID is required`);
    assertUid(tracking.uid, `segment ${number}: tracking UID`);
  }

  toItem(): Record<string, any> {
    const item: Record<string, any> = {
      SegmentNumber: this.number,
      SegmentLabel: fitText('LO', this.label),
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: fitText('LO', this.algorithm.name),
      SegmentationAlgorithmIdentificationSequence: [
        {
          AlgorithmFamilyCodeSequence: [(this.algorithm.family ?? codes.ArtificialIntelligence).toItem()],
          AlgorithmName: fitText('LO', this.algorithm.name),
          AlgorithmVersion: fitText('LO', this.algorithm.version),
        },
      ],
      SegmentedPropertyCategoryCodeSequence: [this.category.toItem()],
      SegmentedPropertyTypeCodeSequence: [this.type.toItem()],
      RecommendedDisplayCIELabValue: rgbToDicomLab(segmentRgb(this.number)),
      TrackingID: fitText('UT', this.tracking.id),
      TrackingUID: this.tracking.uid,
    };
    if (this.anatomicRegion) item.AnatomicRegionSequence = [this.anatomicRegion.toItem()];
    return item;
  }
}

export class Segmentation {
  readonly dataset: Record<string, any>;
  readonly numberOfFrames: number;

  constructor(opts: {
    sourceDataset: Record<string, any>;
    volume: Volume;
    segments: { description: SegmentDescription; masks: SliceMask[] }[];
    seriesInstanceUID: string;
    sopInstanceUID: string;
    dimensionOrganizationUID: string;
    seriesNumber: number;
    instanceNumber: number;
    seriesDescription: string;
    contentLabel: string;
    contentDescription: string;
    manufacturer: string;
    modelName: string;
    softwareVersion: string;
    /** Of the source images; the slice spacing when absent. */
    sliceThickness?: number;
    contentDate?: Date;
  }) {
    const { volume } = opts;
    const [cols, rows] = volume.dims;
    if (!Array.isArray(opts.segments) || opts.segments.length === 0) throw new Error('Segmentation: at least one segment is required');
    const numbers = opts.segments.map((s) => s.description.number);
    numbers.forEach((n, i) => {
      if (n !== i + 1) throw new Error(`Segmentation: segment numbers must be 1..${numbers.length} in order (got ${numbers.join(',')})`);
    });
    for (const s of opts.segments) {
      if (s.masks.length === 0) throw new Error(`Segmentation: segment ${s.description.number} has no frame`);
    }
    if (!opts.contentLabel) throw new Error('Segmentation: a content label is required');
    checkValue('CS', opts.contentLabel, 'Segmentation ContentLabel');
    for (const [what, uid] of Object.entries({ seriesInstanceUID: opts.seriesInstanceUID, sopInstanceUID: opts.sopInstanceUID, dimensionOrganizationUID: opts.dimensionOrganizationUID })) {
      assertUid(uid, `Segmentation ${what}`);
    }

    const study = patientStudyModules(opts.sourceDataset);
    const { date, time } = dicomDateTime(opts.contentDate ?? new Date());
    const d = volume.direction;
    const frames: Uint8Array[] = [];
    const perFrame: Record<string, any>[] = [];
    const referenced = new Map<string, { sopClassUID: string; sopInstanceUID: string }>();

    for (const seg of opts.segments) {
      for (const m of [...seg.masks].sort((a, b) => a.sliceIndex - b.sliceIndex)) {
        const slice = volume.slices[m.sliceIndex];
        if (!slice) throw new Error(`Segmentation: segment ${seg.description.number} refers to slice ${m.sliceIndex} outside the volume`);
        if (m.data.length !== rows * cols) throw new Error(`Segmentation: frame of segment ${seg.description.number} has ${m.data.length} pixels, expected ${rows * cols}`);
        const ref = imageRef(volume, slice);
        referenced.set(slice.sopInstanceUID, { sopClassUID: slice.sopClassUID, sopInstanceUID: slice.sopInstanceUID });
        const source: Record<string, any> = {
          ReferencedSOPClassUID: ref.sopClassUID,
          ReferencedSOPInstanceUID: ref.sopInstanceUID,
          PurposeOfReferenceCodeSequence: [codes.SourceImageForImageProcessingOperation.toItem()],
        };
        if (ref.frameNumber !== undefined) source.ReferencedFrameNumber = ref.frameNumber;
        frames.push(m.data);
        perFrame.push({
          DerivationImageSequence: [{ SourceImageSequence: [source], DerivationCodeSequence: [codes.Segmentation.toItem()] }],
          FrameContentSequence: [{ DimensionIndexValues: [seg.description.number, m.sliceIndex + 1] }],
          PlanePositionSequence: [{ ImagePositionPatient: slice.position.map(formatDS) }],
          SegmentIdentificationSequence: [{ ReferencedSegmentNumber: seg.description.number }],
        });
      }
    }
    this.numberOfFrames = frames.length;
    const pixelData = packBits(frames, rows * cols);

    this.dataset = {
      SpecificCharacterSet: 'ISO_IR 192',
      SOPClassUID: SEGMENTATION_SOP_CLASS,
      SOPInstanceUID: opts.sopInstanceUID,
      ...study,
      Modality: 'SEG',
      SeriesInstanceUID: opts.seriesInstanceUID,
      SeriesNumber: opts.seriesNumber,
      SeriesDescription: fitText('LO', opts.seriesDescription),
      SeriesDate: date,
      SeriesTime: time,
      FrameOfReferenceUID: volume.frameOfReferenceUID,
      PositionReferenceIndicator: '',
      Manufacturer: fitText('LO', opts.manufacturer),
      ManufacturerModelName: fitText('LO', opts.modelName),
      DeviceSerialNumber: fitText('LO', opts.softwareVersion),
      SoftwareVersions: fitText('LO', opts.softwareVersion),
      InstanceNumber: opts.instanceNumber,
      ContentDate: date,
      ContentTime: time,
      InstanceCreationDate: date,
      InstanceCreationTime: time,
      ImageType: ['DERIVED', 'PRIMARY'],
      ContentLabel: opts.contentLabel,
      ContentDescription: fitText('LO', opts.contentDescription),
      ContentCreatorName: '',
      SegmentationType: 'BINARY',
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: rows,
      Columns: cols,
      BitsAllocated: 1,
      BitsStored: 1,
      HighBit: 0,
      PixelRepresentation: 0,
      LossyImageCompression: '00',
      NumberOfFrames: this.numberOfFrames,
      SegmentSequence: opts.segments.map((s) => s.description.toItem()),
      DimensionOrganizationSequence: [{ DimensionOrganizationUID: opts.dimensionOrganizationUID }],
      DimensionOrganizationType: '3D',
      DimensionIndexSequence: [
        {
          DimensionOrganizationUID: opts.dimensionOrganizationUID,
          DimensionIndexPointer: 0x0062000b, // ReferencedSegmentNumber
          FunctionalGroupPointer: 0x0062000a, // SegmentIdentificationSequence
          DimensionDescriptionLabel: 'Segment Number',
        },
        {
          DimensionOrganizationUID: opts.dimensionOrganizationUID,
          DimensionIndexPointer: 0x00200032, // ImagePositionPatient
          FunctionalGroupPointer: 0x00209113, // PlanePositionSequence
          DimensionDescriptionLabel: 'Image Position Patient',
        },
      ],
      SharedFunctionalGroupsSequence: [
        {
          PlaneOrientationSequence: [{ ImageOrientationPatient: [...d.row, ...d.column].map(formatDS) }],
          PixelMeasuresSequence: [
            {
              // PixelSpacing is row spacing \ column spacing; Volume.spacing is [along a row, between rows, slices].
              PixelSpacing: [formatDS(volume.spacing[1]), formatDS(volume.spacing[0])],
              SliceThickness: formatDS(opts.sliceThickness ?? volume.spacing[2]),
              SpacingBetweenSlices: formatDS(volume.spacing[2]),
            },
          ],
        },
      ],
      PerFrameFunctionalGroupsSequence: perFrame,
      ReferencedSeriesSequence: [
        {
          SeriesInstanceUID: volume.seriesInstanceUID,
          ReferencedInstanceSequence: [...referenced.values()].map((r) => ({ ReferencedSOPClassUID: r.sopClassUID, ReferencedSOPInstanceUID: r.sopInstanceUID })),
        },
      ],
      PixelData: [pixelData.buffer.slice(pixelData.byteOffset, pixelData.byteOffset + pixelData.byteLength)],
      _vrMap: { PixelData: 'OB' },
    };
  }
}
