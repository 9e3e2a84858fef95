/** Coded concepts (the Code Sequence Macro, PS3.3 Table 8.8-1) and the codes lens-pacs uses. */
import type { LesionType } from '../detect/findings';
import { checkValue, DicomValueError } from '../dicom/vr';

export class CodedConcept {
  constructor(
    readonly value: string,
    readonly scheme: string,
    readonly meaning: string,
    readonly schemeVersion?: string,
  ) {
    // A code is never shortened: a cut one would mean something else.
    for (const [what, vr, v] of [['code value', 'SH', value], ['coding scheme designator', 'SH', scheme], ['code meaning', 'LO', meaning]] as const) {
      if (typeof v !== 'string' || v.length === 0) throw new DicomValueError(`CodedConcept: ${what} is required (got ${JSON.stringify(v)})`);
      checkValue(vr, v, `CodedConcept ${JSON.stringify(value)} ${what}`);
    }
    if (!/^[A-Za-z0-9_.\-]+$/.test(scheme)) throw new DicomValueError(`CodedConcept: coding scheme designator ${JSON.stringify(scheme)} holds characters other than letters, digits, _ . -`);
    if (schemeVersion !== undefined) checkValue('SH', schemeVersion, `CodedConcept ${JSON.stringify(value)} coding scheme version`);
  }

  /** One item of a code sequence, dcmjs naturalized. */
  toItem(): Record<string, string> {
    const item: Record<string, string> = {
      CodeValue: this.value,
      CodingSchemeDesignator: this.scheme,
      CodeMeaning: this.meaning,
    };
    if (this.schemeVersion) item.CodingSchemeVersion = this.schemeVersion;
    return item;
  }

  equals(other: CodedConcept): boolean {
    return this.value === other.value && this.scheme === other.scheme;
  }

  toString(): string {
    return `(${this.value}, ${this.scheme}, "${this.meaning}")`;
  }
}

const dcm = (v: string, m: string) => new CodedConcept(v, 'DCM', m);
const sct = (v: string, m: string) => new CodedConcept(v, 'SCT', m);

export const codes = {
  // TID 1500 document and containers
  ImagingMeasurementReport: dcm('126000', 'Imaging Measurement Report'),
  ImageLibrary: dcm('111028', 'Image Library'),
  ImageLibraryGroup: dcm('126200', 'Image Library Group'),
  ImagingMeasurements: dcm('126010', 'Imaging Measurements'),
  MeasurementGroup: dcm('125007', 'Measurement Group'),
  QualitativeEvaluations: new CodedConcept('C0034375', 'UMLS', 'Qualitative Evaluations'),
  Source: sct('260753009', 'Source'),
  // Context
  LanguageOfContentItemAndDescendants: dcm('121049', 'Language of Content Item and Descendants'),
  EnglishUS: new CodedConcept('en-US', 'RFC5646', 'English (United States)'),
  ObserverType: dcm('121005', 'Observer Type'),
  Device: dcm('121007', 'Device'),
  DeviceObserverUID: dcm('121012', 'Device Observer UID'),
  DeviceObserverName: dcm('121013', 'Device Observer Name'),
  DeviceObserverManufacturer: dcm('121014', 'Device Observer Manufacturer'),
  DeviceObserverModelName: dcm('121015', 'Device Observer Model Name'),
  ProcedureReported: dcm('121058', 'Procedure reported'),
  CTUnspecifiedBodyRegion: new CodedConcept('25045-6', 'LN', 'CT unspecified body region'),
  // Measurement group
  TrackingIdentifier: dcm('112039', 'Tracking Identifier'),
  TrackingUniqueIdentifier: dcm('112040', 'Tracking Unique Identifier'),
  FindingCategory: sct('276214006', 'Finding category'),
  MorphologicallyAbnormalStructure: sct('49755003', 'Morphologically abnormal structure'),
  Finding: dcm('121071', 'Finding'),
  Lesion: sct('52988006', 'Lesion'),
  FindingSite: sct('363698007', 'Finding site'),
  ImageRegion: dcm('111030', 'Image Region'),
  LongAxis: sct('103339001', 'Long Axis'),
  ShortAxis: sct('103340004', 'Short Axis'),
  // TID 300 > TID 320 $Purpose of the region a measurement is inferred from
  SourceOfMeasurement: dcm('121112', 'Source of Measurement'),
  Comment: dcm('121106', 'Comment'),
  // TID 4019
  AlgorithmFamily: dcm('111000', 'Algorithm Family'),
  AlgorithmName: dcm('111001', 'Algorithm Name'),
  AlgorithmVersion: dcm('111003', 'Algorithm Version'),
  ArtificialIntelligence: dcm('123110', 'Artificial Intelligence'),
  // CAD processing summary (CID 6047), used when nothing was found
  CADProcessingAndFindingsSummary: dcm('111064', 'CAD Processing and Findings Summary'),
  AllAlgorithmsSucceededWithoutFindings: dcm('111241', 'All algorithms succeeded; without findings'),
  // The detector's score has no standard concept: a private coding scheme (PS3.3 8.2: 99 prefix).
  DetectionScore: new CodedConcept('score', '99LENS', 'Detection score'),
  // Units (UCUM)
  Millimeter: new CodedConcept('mm', 'UCUM', 'millimeter'),
  NoUnits: new CodedConcept('1', 'UCUM', 'no units'),
  // SEG
  Segmentation: dcm('113076', 'Segmentation'),
  SourceImageForImageProcessingOperation: dcm('121322', 'Source image for image processing operation'),
} as const;

/** SNOMED CT body structure where each lesion type lies (Finding Site in the SR, Anatomic Region in the SEG). */
export const LESION_SITES: Record<LesionType, CodedConcept> = {
  lung_nodule: sct('39607008', 'Lung structure'),
  liver_lesion: sct('10200004', 'Liver structure'),
  kidney_cyst: sct('64033007', 'Kidney structure'),
  lymph_node: sct('59441001', 'Structure of lymph node'),
  bone_lesion: sct('272673000', 'Bone structure'),
  soft_tissue: sct('87784001', 'Soft tissue'),
};

/** Human-readable lesion type for labels ("lung nodule"). */
export function lesionTypeLabel(type: string): string {
  return type === 'lesion' ? 'lesion' : type.replace(/_/g, ' ');
}

export function findingSiteFor(type: string): CodedConcept | undefined {
  return (LESION_SITES as Record<string, CodedConcept>)[type];
}
