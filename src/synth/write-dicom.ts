/**
 * Writes a synthetic study as a standard CT series: one CT Image Storage file per slice, Explicit VR Little
 * Endian, with the complete Patient, Study, Series, Frame of Reference, Equipment, Image Plane/Pixel, CT Image,
 * VOI LUT and SOP Common modules, so that it passes dciodvfy and any PACS stores it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SynthStudy } from './study';
import { synthUid } from './uids';
import { assertDatasetValues, fitText, formatDS } from '../dicom/vr';

/** What the writer reads of a study: a phantom (SynthStudy) or real CT with inserted lesions (insert-lesions.ts). */
export type DicomStudy = Pick<SynthStudy, 'volume' | 'patient' | 'study' | 'series' | 'instanceNumbers'>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
/** Our implementation's UID (fixed) and name, written into each file's meta header. */
export const IMPLEMENTATION_CLASS_UID = synthUid('implementation', 'lens-pacs-synth');
export const IMPLEMENTATION_VERSION = 'LENS_SYNTH_1';
/** Stored values are HU + 1024 in 12 bits (0..4095), as many scanners store CT. */
const RESCALE_INTERCEPT = -1024;

/** A decimal string (DS) of the value rounded to micrometres, as scanners write geometry. */
function ds(v: number): string {
  return formatDS(Number(v.toFixed(6)));
}

/** Naturalized dataset of slice k (sorted index) without PixelData. */
export function sliceDataset(study: DicomStudy, k: number): Record<string, unknown> {
  const v = study.volume;
  const [cols, rows] = v.dims;
  const [ps, , t] = v.spacing;
  const pos = v.slices[k].position;
  const region = study.series.region;
  const bodyPart = region === 'chest' ? 'CHEST' : region === 'abdomen' ? 'ABDOMEN' : 'CHEST';
  const dateTime = { date: study.study.date, time: study.study.time };
  return {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    InstanceCreationDate: dateTime.date,
    InstanceCreationTime: dateTime.time,
    SOPClassUID: v.slices[k].sopClassUID,
    SOPInstanceUID: v.slices[k].sopInstanceUID,
    StudyDate: dateTime.date,
    SeriesDate: dateTime.date,
    AcquisitionDate: dateTime.date,
    ContentDate: dateTime.date,
    StudyTime: dateTime.time,
    SeriesTime: dateTime.time,
    AcquisitionTime: dateTime.time,
    ContentTime: dateTime.time,
    AccessionNumber: study.study.accessionNumber,
    Modality: 'CT',
    Manufacturer: 'lens-pacs synth',
    InstitutionName: 'lens-pacs phantom',
    ReferringPhysicianName: '',
    StudyDescription: fitText('LO', study.study.description),
    SeriesDescription: fitText('LO', study.series.description),
    ManufacturerModelName: 'procedural phantom',
    PatientName: study.patient.name,
    PatientID: study.patient.id,
    PatientBirthDate: study.patient.birthDate,
    PatientSex: study.patient.sex,
    PatientAge: study.patient.age,
    BodyPartExamined: bodyPart,
    SliceThickness: ds(t),
    KVP: ds(study.series.kvp),
    DataCollectionDiameter: ds(500),
    DeviceSerialNumber: 'SYNTH-0001',
    SoftwareVersions: 'lens-pacs synth 1',
    ReconstructionDiameter: ds(ps * cols),
    GantryDetectorTilt: ds(0),
    TableHeight: ds(150),
    RotationDirection: 'CW',
    ExposureTime: '500',
    XRayTubeCurrent: '200',
    Exposure: '100',
    ConvolutionKernel: fitText('SH', study.series.kernel),
    PatientPosition: 'HFS',
    StudyInstanceUID: v.studyInstanceUID,
    SeriesInstanceUID: v.seriesInstanceUID,
    StudyID: study.study.id,
    SeriesNumber: String(study.series.number),
    AcquisitionNumber: '1',
    InstanceNumber: String(study.instanceNumbers[k]),
    ImagePositionPatient: pos.map(ds),
    ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
    FrameOfReferenceUID: v.frameOfReferenceUID,
    PositionReferenceIndicator: '',
    SliceLocation: ds(pos[2]),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: cols,
    PixelSpacing: [ds(ps), ds(ps)],
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    WindowCenter: ['40', '-600'],
    WindowWidth: ['400', '1500'],
    WindowCenterWidthExplanation: ['SOFT TISSUE', 'LUNG'],
    RescaleIntercept: ds(RESCALE_INTERCEPT),
    RescaleSlope: '1',
    RescaleType: 'HU',
  };
}

/** One Part 10 file (Explicit VR LE) for sorted slice k. */
export function sliceToPart10(study: DicomStudy, k: number): Buffer {
  const v = study.volume;
  const n = v.dims[0] * v.dims[1];
  const hu = v.data.subarray(k * n, (k + 1) * n);
  const stored = new Uint16Array(n);
  for (let i = 0; i < n; i++) stored[i] = hu[i] - RESCALE_INTERCEPT;
  const ds0 = sliceDataset(study, k);
  assertDatasetValues(ds0, `synthetic slice ${k}`);
  const dataset = { ...ds0, PixelData: [stored.buffer], _vrMap: { PixelData: 'OW' } };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds0.SOPClassUID,
    MediaStorageSOPInstanceUID: ds0.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION,
  };
  assertDatasetValues(meta, 'file meta information');
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}

/** Writes one file per slice, named by InstanceNumber (CT0001.dcm, ...); returns the file paths. */
export function writeStudyDicom(study: DicomStudy, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let k = 0; k < study.volume.dims[2]; k++) {
    const f = join(dir, `CT${String(study.instanceNumbers[k]).padStart(4, '0')}.dcm`);
    writeFileSync(f, sliceToPart10(study, k));
    files.push(f);
  }
  return files;
}
