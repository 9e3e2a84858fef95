/**
 * A reader's TID 1500 SR as OHIF saves it: built with dcmjs' own TID 300 / TID 1500 classes (the ones OHIF's
 * measurement export goes through), so that the harvest reads the structure real viewers write. Used to stand in
 * for radiologists on a synthetic archive (integration test, bench/harvest-precision.ts) and by the unit tests.
 */
import type { Box2D } from '../detect/box2d';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../report/part10';
import { COMPLETE_ANNOTATION_PHRASE } from './sr-labels';

// dcmjs ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');
const { TID300, TID1500 } = dcmjs.utilities;
const { DicomMetaDictionary } = dcmjs.data;

export const COMPREHENSIVE_3D_SR = '1.2.840.10008.5.1.4.1.1.88.34';
/** The text a reader types on an arrow to mark the study as completely annotated (matches COMPLETE_ANNOTATION_PHRASE). */
export const COMPLETE_ANNOTATION_TEXT = 'All lesions annotated';
if (!COMPLETE_ANNOTATION_PHRASE.test(COMPLETE_ANNOTATION_TEXT)) throw new Error('COMPLETE_ANNOTATION_TEXT does not match the phrase');

export interface ImageRef {
  sopClassUID: string;
  sopInstanceUID: string;
  frameNumber?: number;
}

type P = [number, number];
export type ReaderMark = { image: ImageRef; trackingUid?: string } & (
  | { kind: 'length'; from: P; to: P }
  | { kind: 'bidirectional'; long: [P, P]; short: [P, P] }
  | { kind: 'ellipse'; box: Box2D }
  | { kind: 'rectangle'; box: Box2D }
  | { kind: 'circle'; centre: P; radius: number }
  | { kind: 'arrow'; tip: P; text: string }
);

export interface ReaderSrOptions {
  /** A source image's dataset: patient and study are copied from it. */
  source: Record<string, any>;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  marks: ReaderMark[];
  /** Adds an arrow saying "All lesions annotated" on the first mark's image. */
  complete?: boolean;
  /** The SR this one continues (an edited copy of a lens-pacs report). */
  predecessor?: { seriesInstanceUID: string; sopInstanceUID: string };
  manufacturer?: string;
}

const xy = (p: P) => ({ x: p[0], y: p[1] });
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const dist = (a: P, b: P) => r3(Math.hypot(a[0] - b[0], a[1] - b[1]));

function tid300(m: ReaderMark): unknown {
  const ReferencedSOPSequence = {
    ReferencedSOPClassUID: m.image.sopClassUID,
    ReferencedSOPInstanceUID: m.image.sopInstanceUID,
    ...(m.image.frameNumber ? { ReferencedFrameNumber: m.image.frameNumber } : {}),
  };
  const common = { ReferencedSOPSequence, trackingIdentifierTextValue: `Cornerstone3DTools@^0.1.0:${m.kind}` };
  switch (m.kind) {
    case 'length':
      return new TID300.Length({ ...common, point1: xy(m.from), point2: xy(m.to), distance: dist(m.from, m.to), unit: 'mm' });
    case 'bidirectional':
      return new TID300.Bidirectional({
        ...common,
        longAxis: { point1: xy(m.long[0]), point2: xy(m.long[1]) },
        shortAxis: { point1: xy(m.short[0]), point2: xy(m.short[1]) },
        longAxisLength: dist(...m.long),
        shortAxisLength: dist(...m.short),
        unit: 'mm',
      });
    case 'ellipse': {
      const [x1, y1, x2, y2] = m.box;
      const cx = (x1 + x2) / 2;
      const cy = (y1 + y2) / 2;
      const pts = [{ x: cx, y: y1 }, { x: cx, y: y2 }, { x: x1, y: cy }, { x: x2, y: cy }];
      return new TID300.Ellipse({ ...common, points: pts, area: r3((Math.PI * (x2 - x1) * (y2 - y1)) / 4), areaUnit: 'mm2' });
    }
    case 'rectangle': {
      const [x1, y1, x2, y2] = m.box;
      const pts = [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]].map((p) => xy(p as P));
      return new TID300.Polyline({ ...common, points: pts, area: (x2 - x1) * (y2 - y1), areaUnit: 'mm2' });
    }
    case 'circle':
      return new TID300.Circle({ ...common, points: [xy(m.centre), { x: m.centre[0] + m.radius, y: m.centre[1] }], area: r3(Math.PI * m.radius ** 2), areaUnit: 'mm2', radius: m.radius, radiusUnit: 'mm' });
    case 'arrow':
      return new TID300.ArrowAnnotate({ ...common, points: [xy(m.tip)], finding: { CodeValue: 'CORNERSTONEFREETEXT', CodingSchemeDesignator: 'CORNERSTONEJS', CodeMeaning: m.text } });
  }
}

/** The SR as a naturalized dataset (sequences as arrays, as a Part 10 file reads back). */
export function buildReaderSr(o: ReaderSrOptions): Record<string, any> {
  const marks = [...o.marks];
  if (o.complete) {
    if (!marks[0] && !o.source.SOPInstanceUID) throw new Error('buildReaderSr: a complete mark needs an image');
    const image = marks[0]?.image ?? { sopClassUID: o.source.SOPClassUID, sopInstanceUID: o.source.SOPInstanceUID };
    marks.push({ kind: 'arrow', image, tip: [1, 1], text: COMPLETE_ANNOTATION_TEXT });
  }
  const measurements = marks.map(tid300);
  const report = new TID1500.TID1500MeasurementReport({ TID1501MeasurementGroups: [new TID1500.TID1501MeasurementGroup(measurements)] });
  const source = { StudyInstanceUID: o.source.StudyInstanceUID, SeriesInstanceUID: o.source.SeriesInstanceUID };
  const content = withArrays(report.contentItem(source, { PersonName: 'READER^SIMULATED' }));
  // dcmjs draws a fresh random Tracking Unique Identifier per group; an edited copy keeps the original one.
  const groups = content.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence;
  marks.forEach((m, i) => {
    if (!m.trackingUid) return;
    const uidItem = groups[i].ContentSequence.find((c: any) => c.ValueType === 'UIDREF');
    uidItem.UID = m.trackingUid;
  });
  const { CodingSchemeIdentificationSequence, ContentTemplateSequence, ConceptNameCodeSequence, ContentSequence, ContinuityOfContent } = content;
  const now = new Date();
  const date = `${now.getFullYear()}${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`;
  return {
    SOPClassUID: COMPREHENSIVE_3D_SR,
    SOPInstanceUID: o.sopInstanceUID,
    Modality: 'SR',
    SeriesInstanceUID: o.seriesInstanceUID,
    SeriesNumber: 3000,
    InstanceNumber: 1,
    SeriesDescription: 'Research Derived Series',
    Manufacturer: o.manufacturer ?? 'OHIF',
    StudyInstanceUID: o.source.StudyInstanceUID,
    PatientName: o.source.PatientName ?? '',
    PatientID: o.source.PatientID ?? '',
    PatientBirthDate: o.source.PatientBirthDate ?? '',
    PatientSex: o.source.PatientSex ?? '',
    StudyDate: o.source.StudyDate ?? '',
    StudyTime: o.source.StudyTime ?? '',
    StudyID: o.source.StudyID ?? '',
    AccessionNumber: o.source.AccessionNumber ?? '',
    ReferringPhysicianName: '',
    ContentDate: date,
    ContentTime: '120000',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence,
    ContinuityOfContent,
    ContentTemplateSequence,
    CodingSchemeIdentificationSequence,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    CurrentRequestedProcedureEvidenceSequence: content.CurrentRequestedProcedureEvidenceSequence,
    ...(o.predecessor
      ? {
          PredecessorDocumentsSequence: [
            {
              StudyInstanceUID: o.source.StudyInstanceUID,
              ReferencedSeriesSequence: [{ SeriesInstanceUID: o.predecessor.seriesInstanceUID, ReferencedSOPSequence: [{ ReferencedSOPClassUID: COMPREHENSIVE_3D_SR, ReferencedSOPInstanceUID: o.predecessor.sopInstanceUID }] }],
            },
          ],
        }
      : {}),
    ContentSequence,
  };
}

/**
 * As Part 10, written by dcmjs as OHIF writes it: without lens-pacs' own value checks (report/part10.ts toPart10),
 * since OHIF's free-text finding code 'CORNERSTONEFREETEXT' is longer than SH allows and PACS store it anyway.
 */
export function readerSrPart10(o: ReaderSrOptions): Buffer {
  const ds = { ...buildReaderSr(o), SpecificCharacterSet: 'ISO_IR 192', _meta: { TransferSyntaxUID: { Value: [EXPLICIT_VR_LITTLE_ENDIAN] } } };
  return dcmjs.data.datasetToBuffer(ds) as Buffer;
}

/** dcmjs' builders leave one-item sequences as plain objects; a file read back has arrays everywhere. */
function withArrays(ds: any): any {
  if (Array.isArray(ds)) return ds.map(withArrays);
  if (!ds || typeof ds !== 'object') return ds;
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(ds)) {
    const isSeq = DicomMetaDictionary.nameMap[k]?.vr === 'SQ';
    out[k] = isSeq ? (Array.isArray(v) ? v : [v]).map(withArrays) : withArrays(v);
  }
  return out;
}
