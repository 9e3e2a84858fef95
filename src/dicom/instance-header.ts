/**
 * The attributes of one DICOM image instance that series selection and volume assembly need, read from a dcmjs
 * naturalized dataset. The same function serves Part 10 files (DicomMessage.readFile + naturalizeDataset) and
 * DICOMweb JSON metadata (naturalizeDataset of the WADO-RS metadata), so that a folder and a PACS give identical
 * headers.
 *
 * Multi-frame (Enhanced CT) objects carry their geometry in functional groups; `frames` always lists every frame
 * with its resolved geometry and rescale, so that consumers never look at functional groups themselves.
 */
import type { Vec3 } from './volume';
import { LensError } from '../errors';
import { DicomLimitError, dicomLimits } from './limits';

export interface FrameHeader {
  /** 1-based. */
  frameNumber: number;
  imagePositionPatient?: Vec3;
  imageOrientationPatient?: number[];
  /** [row spacing, column spacing] in mm, as in PixelSpacing. */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  rescaleSlope: number;
  rescaleIntercept: number;
}

export interface InstanceHeader {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  modality: string;
  /** ImageType values (for Enhanced CT: the FrameType of the shared/first frame when ImageType is absent). */
  imageType: string[];
  seriesDescription?: string;
  seriesNumber?: number;
  convolutionKernel?: string;
  rows: number;
  columns: number;
  /** Of the first frame (all frames of a single-frame instance). Absent when the object has no plane geometry. */
  pixelSpacing?: [number, number];
  imageOrientationPatient?: number[];
  imagePositionPatient?: Vec3;
  sliceThickness?: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
  photometricInterpretation?: string;
  numberOfFrames: number;
  /** One entry per frame, in frame order; single-frame instances have one. */
  frames: FrameHeader[];
  transferSyntaxUID?: string;
  frameOfReferenceUID?: string;
  instanceNumber?: number;
  gantryDetectorTilt?: number;
  /** Where the header came from (file path), for messages; absent for PACS metadata. */
  source?: string;
}

export class DicomHeaderError extends LensError {
  constructor(message: string) {
    super(message, 'header-invalid');
  }
}

type Dataset = Record<string, any>;

/** naturalizeDataset unwraps single values; multi-valued attributes stay arrays. */
function asArray(v: unknown): unknown[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.includes('\\')) return v.split('\\');
  return [v];
}

function num(v: unknown): number | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined || x === null || x === '') return undefined;
  const n = typeof x === 'number' ? x : Number(String(x).trim());
  return Number.isFinite(n) ? n : undefined;
}

function str(v: unknown): string | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  if (x === undefined || x === null) return undefined;
  // PN values from DICOMweb JSON are objects; none are read here, but guard anyway.
  // Some writers pad text with NUL instead of space (ImageType 'ORIGINAL\\PRIMARY\0...'): stripped like spaces.
  const s = typeof x === 'object' ? JSON.stringify(x) : String(x).replace(/\0/g, '').trim();
  return s === '' ? undefined : s;
}

/**
 * RescaleSlope/Intercept: absent -> the identity default; present but empty or not a number ('NaN') -> NaN, so that
 * series screening (series-consistency.ts) excludes the slice instead of silently reading it with slope 1.
 */
function rescaleValue(v: unknown, absent: number): number {
  return v === undefined ? absent : (num(v) ?? NaN);
}

function nums(v: unknown, n: number): number[] | undefined {
  const a = asArray(v).map((x) => num(x));
  if (a.length !== n || a.some((x) => x === undefined)) return undefined;
  return a as number[];
}

function firstItem(seq: unknown): Dataset | undefined {
  if (Array.isArray(seq)) return seq[0];
  if (seq && typeof seq === 'object') return seq as Dataset;
  return undefined;
}

/** An attribute of a functional group macro: per-frame item first, then shared. */
function fgAttr(perFrame: Dataset | undefined, shared: Dataset | undefined, seqName: string, attr: string): unknown {
  for (const group of [perFrame, shared]) {
    const item = firstItem(group?.[seqName]);
    if (item && item[attr] !== undefined) return item[attr];
  }
  return undefined;
}

export function headerFromDataset(ds: Dataset, transferSyntaxUID?: string): InstanceHeader {
  const sopInstanceUID = str(ds.SOPInstanceUID);
  const seriesInstanceUID = str(ds.SeriesInstanceUID);
  const studyInstanceUID = str(ds.StudyInstanceUID);
  const missing = [
    ['SOPInstanceUID', sopInstanceUID],
    ['SeriesInstanceUID', seriesInstanceUID],
    ['StudyInstanceUID', studyInstanceUID],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length) throw new DicomHeaderError(`dataset lacks ${missing.join(', ')}`);

  const numberOfFrames = Math.max(1, Math.round(num(ds.NumberOfFrames) ?? 1));
  const rows = num(ds.Rows) ?? 0;
  const columns = num(ds.Columns) ?? 0;
  // Before the frame list below is built or any pixel buffer sized: what a header says is not yet believed.
  const limits = dicomLimits();
  if (numberOfFrames > limits.maxFrames) throw new DicomLimitError(`NumberOfFrames ${numberOfFrames} exceeds the limit of ${limits.maxFrames} (maxFrames)`);
  if (rows > limits.maxRows || columns > limits.maxColumns)
    throw new DicomLimitError(`image size ${rows} x ${columns} exceeds the limit of ${limits.maxRows} x ${limits.maxColumns} (maxRows, maxColumns)`);
  const shared = firstItem(ds.SharedFunctionalGroupsSequence);
  const perFrameSeq: Dataset[] = Array.isArray(ds.PerFrameFunctionalGroupsSequence) ? ds.PerFrameFunctionalGroupsSequence : [];
  const enhanced = !!shared || perFrameSeq.length > 0;

  const frames: FrameHeader[] = [];
  for (let f = 0; f < numberOfFrames; f++) {
    const pf = perFrameSeq[f];
    const ipp = enhanced ? fgAttr(pf, shared, 'PlanePositionSequence', 'ImagePositionPatient') : undefined;
    const iop = enhanced ? fgAttr(pf, shared, 'PlaneOrientationSequence', 'ImageOrientationPatient') : undefined;
    const ps = enhanced ? fgAttr(pf, shared, 'PixelMeasuresSequence', 'PixelSpacing') : undefined;
    const st = enhanced ? fgAttr(pf, shared, 'PixelMeasuresSequence', 'SliceThickness') : undefined;
    const slope = enhanced ? fgAttr(pf, shared, 'PixelValueTransformationSequence', 'RescaleSlope') : undefined;
    const icpt = enhanced ? fgAttr(pf, shared, 'PixelValueTransformationSequence', 'RescaleIntercept') : undefined;
    frames.push({
      frameNumber: f + 1,
      imagePositionPatient: nums(ipp ?? ds.ImagePositionPatient, 3) as Vec3 | undefined,
      imageOrientationPatient: nums(iop ?? ds.ImageOrientationPatient, 6),
      pixelSpacing: nums(ps ?? ds.PixelSpacing, 2) as [number, number] | undefined,
      sliceThickness: num(st ?? ds.SliceThickness),
      rescaleSlope: rescaleValue(slope !== undefined ? slope : ds.RescaleSlope, 1),
      rescaleIntercept: rescaleValue(icpt !== undefined ? icpt : ds.RescaleIntercept, 0),
    });
  }

  let imageType = asArray(ds.ImageType).map((x) => String(x).replace(/\0/g, '').trim().toUpperCase());
  if (imageType.length === 0 && enhanced) {
    const ft = fgAttr(perFrameSeq[0], shared, 'CTImageFrameTypeSequence', 'FrameType');
    imageType = asArray(ft).map((x) => String(x).replace(/\0/g, '').trim().toUpperCase());
  }

  const f0 = frames[0];
  const pixelRepresentation = num(ds.PixelRepresentation) ?? 0;
  const bitsAllocated = num(ds.BitsAllocated) ?? 16;
  return {
    studyInstanceUID: studyInstanceUID!,
    seriesInstanceUID: seriesInstanceUID!,
    sopInstanceUID: sopInstanceUID!,
    sopClassUID: str(ds.SOPClassUID) ?? '',
    modality: (str(ds.Modality) ?? '').toUpperCase(),
    imageType,
    seriesDescription: str(ds.SeriesDescription),
    seriesNumber: num(ds.SeriesNumber),
    convolutionKernel: asArray(ds.ConvolutionKernel).map(String).join('\\') || undefined,
    rows,
    columns,
    pixelSpacing: f0.pixelSpacing,
    imageOrientationPatient: f0.imageOrientationPatient,
    imagePositionPatient: f0.imagePositionPatient,
    sliceThickness: f0.sliceThickness,
    rescaleSlope: f0.rescaleSlope,
    rescaleIntercept: f0.rescaleIntercept,
    bitsAllocated,
    bitsStored: num(ds.BitsStored) ?? bitsAllocated,
    pixelRepresentation,
    samplesPerPixel: num(ds.SamplesPerPixel) ?? 1,
    photometricInterpretation: str(ds.PhotometricInterpretation),
    numberOfFrames,
    frames,
    transferSyntaxUID: transferSyntaxUID ?? str(ds.TransferSyntaxUID) ?? str(ds.AvailableTransferSyntaxUID),
    frameOfReferenceUID: str(ds.FrameOfReferenceUID),
    instanceNumber: num(ds.InstanceNumber),
    gantryDetectorTilt: num(ds.GantryDetectorTilt),
  };
}

/** A dataset that is not a usable image instance, with the reason. */
export interface UnreadableInstance {
  sopInstanceUID?: string;
  reason: string;
}

/**
 * The one metadata-to-headers loop: every dataset of a series' metadata (WADO-RS, or any source that hands out
 * datasets) as a header; the ones that are not image instances are set aside with the reason instead of failing
 * the series (one odd instance in a real archive must not cost the whole study its analysis).
 */
export function headersFromDatasets(datasets: Dataset[]): { headers: InstanceHeader[]; unreadable: UnreadableInstance[] } {
  const headers: InstanceHeader[] = [];
  const unreadable: UnreadableInstance[] = [];
  for (const ds of datasets) {
    try {
      headers.push(headerFromDataset(ds));
    } catch (e) {
      unreadable.push({ sopInstanceUID: typeof ds.SOPInstanceUID === 'string' ? ds.SOPInstanceUID : undefined, reason: (e as Error).message });
    }
  }
  return { headers, unreadable };
}
