/**
 * The labels already in the archive (docs/harvest.md#labels-already-in-the-archive): TID 1500 SRs that readers
 * saved (OHIF writes exactly these, through dcmjs' TID 300 classes), read into 2D boxes on the source images.
 *
 *   - A measurement group's geometry is every 2D SCOORD inside it that selects an image: a 2-point POLYLINE is a
 *     line (Length, RECIST long axis), two of them a bidirectional measurement, 3+ points a polygon or box, ELLIPSE
 *     (4 points: the two axes), CIRCLE (centre, point on the edge), POINT/MULTIPOINT and a 1-point POLYLINE
 *     (OHIF's arrow). Coordinates are read as
 *     OHIF writes them: image pixel coordinates with pixel centres at integers (the convention of lens-pacs' own
 *     SR, docs/report.md), so nothing is shifted by half a pixel.
 *   - lens-pacs' own SRs (Manufacturer / series description, pipeline/own-outputs.ts) are proposals, not labels.
 *   - An SR by someone else that continues one of ours (it keeps one of our Tracking Unique Identifiers, or names
 *     our SR in PredecessorDocumentsSequence) is an edit of it: each of our findings the edit no longer holds was
 *     rejected by the reader (a hard negative); what it holds, kept or added, is a label.
 *   - An SR saying "all lesions annotated" (TEXT value, or a code meaning, e.g. an OHIF label) or holding the
 *     coded entry (99LENS, complete-annotation) marks the study as completely annotated.
 */
import type { Box2D } from '../detect/box2d';
import { LensError } from '../errors';
import { ownOutputReason } from '../pipeline/own-outputs';
import type { Dataset } from '../source/study-source';

/** An SR that cannot be read as a document (its study is listed as failed and tried again by the next run). */
export class SrReadError extends LensError {
  constructor(message: string) {
    super(message, 'sr-unreadable');
  }
}

/** The phrase that marks a study as completely annotated, in any TEXT value or code meaning of a reader's SR. */
export const COMPLETE_ANNOTATION_PHRASE = /\ball lesions (are )?annotated\b/i;
/** The coded entry that marks a study as completely annotated (private scheme of lens-pacs, codes.ts). */
export const COMPLETE_ANNOTATION_CODE = { value: 'complete-annotation', scheme: '99LENS' };

const MEASUREMENT_GROUP = { value: '125007', scheme: 'DCM' };
const TRACKING_UID = { value: '112040', scheme: 'DCM' };
const TRACKING_ID = { value: '112039', scheme: 'DCM' };
const FINDING_SITE = [{ value: '363698007', scheme: 'SCT' }, { value: 'G-C0E3', scheme: 'SRT' }];

export type AnnotationShape = 'line' | 'bidirectional' | 'polygon' | 'ellipse' | 'circle' | 'point';

/** One measurement group's geometry on one source image. */
export interface ImageAnnotation {
  sopInstanceUID: string;
  /** 1-based frame of a multi-frame image; absent for single-frame images. */
  frameNumber?: number;
  shape: AnnotationShape;
  /** [x1, y1, x2, y2] in pixels of that image, pixel centres at integers. A point has x1 = x2, y1 = y2. */
  box: Box2D;
}

export interface MeasurementGroup {
  trackingUid?: string;
  trackingId?: string;
  findingSite?: string;
  /** Undefined when the group has no 2D SCOORD on an image (e.g. only SCOORD3D or a text finding). */
  annotation?: ImageAnnotation;
}

export interface SrDocument {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  /** Why the SR is lens-pacs' own (undefined: another device's or reader's). */
  own?: string;
  /** SOP Instance UIDs this SR continues (PredecessorDocumentsSequence). */
  predecessors: string[];
  groups: MeasurementGroup[];
  /** The SR marks the study as completely annotated. */
  marksComplete: boolean;
}

/** A label or a rejected finding, with the SR it came from. */
export interface SrFinding extends MeasurementGroup {
  annotation: ImageAnnotation;
  srSopInstanceUID: string;
}

export interface StudyAnnotations {
  /** Readers' findings: every group of every current non-lens-pacs SR (kept or added findings of an edit too). */
  labels: SrFinding[];
  /** Our findings that a reader's edit of our SR removed: hard negatives. */
  rejected: SrFinding[];
  /** SRs that mark the study as completely annotated. */
  completeBy: string[];
  /** lens-pacs' own SRs (proposals, not labels) and the readers' SRs read. */
  ownSrs: string[];
  readerSrs: string[];
  /** Groups without a 2D image SCOORD, which give no box (counted, not silently dropped). */
  groupsWithoutGeometry: number;
}

const asArray = <T>(v: T | T[] | undefined | null): T[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const str = (v: unknown): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' && x.trim() ? x.replace(/\0/g, '').trim() : undefined;
};

function concept(item: Dataset, key = 'ConceptNameCodeSequence'): { value?: string; scheme?: string; meaning?: string } {
  const c = asArray<Dataset>(item[key])[0];
  if (!c) return {};
  return { value: str(c.CodeValue), scheme: str(c.CodingSchemeDesignator), meaning: str(c.CodeMeaning) };
}

const is = (c: { value?: string; scheme?: string }, code: { value: string; scheme: string }) => c.value === code.value && c.scheme === code.scheme;

function children(item: Dataset): Dataset[] {
  return asArray<Dataset>(item.ContentSequence);
}

/** Reads one SR dataset (dcmjs naturalized: from a Part 10 file, WADO-RS metadata, or built in memory). */
export function readSrDocument(ds: Dataset): SrDocument {
  const sopInstanceUID = str(ds.SOPInstanceUID);
  const seriesInstanceUID = str(ds.SeriesInstanceUID);
  if (!sopInstanceUID || !seriesInstanceUID) throw new SrReadError('an SR of the study has no SOPInstanceUID or SeriesInstanceUID');
  const own = ownOutputReason({ seriesInstanceUID, modality: 'SR', manufacturer: str(ds.Manufacturer), seriesDescription: str(ds.SeriesDescription) });
  const predecessors: string[] = [];
  for (const study of asArray<Dataset>(ds.PredecessorDocumentsSequence))
    for (const series of asArray<Dataset>(study.ReferencedSeriesSequence))
      for (const sop of asArray<Dataset>(series.ReferencedSOPSequence)) {
        const uid = str(sop.ReferencedSOPInstanceUID);
        if (uid) predecessors.push(uid);
      }
  const groups: MeasurementGroup[] = [];
  let marksComplete = false;
  const walk = (item: Dataset) => {
    if (item.ValueType === 'CONTAINER' && is(concept(item), MEASUREMENT_GROUP)) {
      // A group labelled with the phrase (e.g. an OHIF arrow "All lesions annotated") is the mark, not a lesion.
      if (mentionsComplete(item)) marksComplete = true;
      else groups.push(readGroup(item));
      return;
    }
    if (mentionsComplete(item, false)) marksComplete = true;
    for (const c of children(item)) walk(c);
  };
  walk(ds);
  return { sopInstanceUID, seriesInstanceUID, own, predecessors, groups, marksComplete };
}

/** Whether an item (and, when deep, its descendants) carries the complete-annotation phrase or code. */
function mentionsComplete(item: Dataset, deep = true): boolean {
  const value = concept(item, 'ConceptCodeSequence');
  if (is(value, COMPLETE_ANNOTATION_CODE)) return true;
  if (value.meaning && COMPLETE_ANNOTATION_PHRASE.test(value.meaning)) return true;
  const text = str(item.TextValue);
  if (text && COMPLETE_ANNOTATION_PHRASE.test(text)) return true;
  return deep && children(item).some((c) => mentionsComplete(c, true));
}

interface Scoord {
  graphicType: string;
  points: [number, number][];
  sopInstanceUID: string;
  frameNumber?: number;
}

function readGroup(group: Dataset): MeasurementGroup {
  const g: MeasurementGroup = {};
  const scoords: Scoord[] = [];
  const walk = (item: Dataset) => {
    const name = concept(item);
    if (item.ValueType === 'UIDREF' && is(name, TRACKING_UID) && !g.trackingUid) g.trackingUid = str(item.UID);
    if (item.ValueType === 'TEXT' && is(name, TRACKING_ID) && !g.trackingId) g.trackingId = str(item.TextValue);
    if (item.ValueType === 'CODE' && FINDING_SITE.some((f) => is(name, f)) && !g.findingSite) g.findingSite = concept(item, 'ConceptCodeSequence').meaning;
    if (item.ValueType === 'SCOORD') {
      const s = readScoord(item);
      if (s) scoords.push(s);
    }
    for (const c of children(item)) walk(c);
  };
  for (const c of children(group)) walk(c);
  const annotation = annotationOf(scoords);
  if (annotation) g.annotation = annotation;
  return g;
}

function readScoord(item: Dataset): Scoord | undefined {
  const data = asArray<unknown>(item.GraphicData).map(Number);
  if (data.length < 2 || data.length % 2 !== 0 || !data.every(Number.isFinite)) return undefined;
  const image = children(item).find((c) => c.ValueType === 'IMAGE');
  const ref = image && asArray<Dataset>(image.ReferencedSOPSequence)[0];
  const sop = ref && str(ref.ReferencedSOPInstanceUID);
  if (!sop) return undefined;
  const frame = Number(asArray<unknown>(ref.ReferencedFrameNumber)[0]);
  const points: [number, number][] = [];
  for (let i = 0; i < data.length; i += 2) points.push([data[i], data[i + 1]]);
  return { graphicType: String(str(item.GraphicType) ?? '').toUpperCase(), points, sopInstanceUID: sop, ...(Number.isInteger(frame) && frame > 0 ? { frameNumber: frame } : {}) };
}

/** The group's box: the union of the boxes of its SCOORDs on its first image (a group measures one lesion). */
function annotationOf(scoords: Scoord[]): ImageAnnotation | undefined {
  if (scoords.length === 0) return undefined;
  const first = scoords[0];
  const same = scoords.filter((s) => s.sopInstanceUID === first.sopInstanceUID && s.frameNumber === first.frameNumber);
  const lines = same.filter((s) => s.graphicType === 'POLYLINE' && s.points.length === 2);
  let box: Box2D | undefined;
  let shape: AnnotationShape | undefined;
  const grow = (b: Box2D, sh: AnnotationShape) => {
    box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : b;
    shape ??= sh;
  };
  if (lines.length >= 2) grow(bounds(lines.flatMap((l) => l.points)), 'bidirectional');
  else if (lines.length === 1) grow(lineBox(lines[0].points[0], lines[0].points[1]), 'line');
  for (const s of same) {
    if (s.graphicType === 'POLYLINE' && s.points.length >= 3) grow(bounds(s.points), 'polygon');
    else if (s.graphicType === 'ELLIPSE' && s.points.length === 4) grow(ellipseBox(s.points), 'ellipse');
    else if (s.graphicType === 'CIRCLE' && s.points.length === 2) grow(circleBox(s.points[0], s.points[1]), 'circle');
    // OHIF's arrow (dcmjs ArrowAnnotate) is a POLYLINE of one point: its tip.
    else if (s.graphicType === 'POINT' || s.graphicType === 'MULTIPOINT' || (s.graphicType === 'POLYLINE' && s.points.length === 1)) grow(bounds(s.points), 'point');
  }
  if (!box || !shape) return undefined;
  return { sopInstanceUID: first.sopInstanceUID, ...(first.frameNumber ? { frameNumber: first.frameNumber } : {}), shape, box };
}

function bounds(points: [number, number][]): Box2D {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** A single line (a RECIST long axis) says the lesion's diameter: the square of that side around its middle. */
function lineBox(a: [number, number], b: [number, number]): Box2D {
  const half = Math.hypot(b[0] - a[0], b[1] - a[1]) / 2;
  const cx = (a[0] + b[0]) / 2;
  const cy = (a[1] + b[1]) / 2;
  return [cx - half, cy - half, cx + half, cy + half];
}

/** ELLIPSE: the end points of the major axis, then of the minor axis (PS3.3 C.18.6.1.2). */
function ellipseBox(p: [number, number][]): Box2D {
  const cx = (p[0][0] + p[1][0]) / 2;
  const cy = (p[0][1] + p[1][1]) / 2;
  const a = [(p[1][0] - p[0][0]) / 2, (p[1][1] - p[0][1]) / 2];
  const b = [(p[3][0] - p[2][0]) / 2, (p[3][1] - p[2][1]) / 2];
  const hx = Math.hypot(a[0], b[0]);
  const hy = Math.hypot(a[1], b[1]);
  return [cx - hx, cy - hy, cx + hx, cy + hy];
}

/** CIRCLE: the centre, then a point on the circle. */
function circleBox(c: [number, number], edge: [number, number]): Box2D {
  const r = Math.hypot(edge[0] - c[0], edge[1] - c[1]);
  return [c[0] - r, c[1] - r, c[0] + r, c[1] + r];
}

/**
 * A study's SRs -> its labels, rejected findings and completeness. A reader's SR that a later reader's SR names as
 * its predecessor is superseded: only the latest version of an edited report counts.
 */
export function studyAnnotations(datasets: Dataset[]): StudyAnnotations {
  const docs = datasets.map(readSrDocument);
  const own = docs.filter((d) => d.own);
  const readers = docs.filter((d) => !d.own);
  const superseded = new Set(readers.flatMap((d) => d.predecessors));
  const current = readers.filter((d) => !superseded.has(d.sopInstanceUID));
  const readerUids = new Set(current.flatMap((d) => d.groups.map((g) => g.trackingUid).filter((u): u is string => !!u)));
  const labels: SrFinding[] = [];
  const rejected: SrFinding[] = [];
  let groupsWithoutGeometry = 0;
  for (const d of current)
    for (const g of d.groups) {
      if (g.annotation) labels.push({ ...g, annotation: g.annotation, srSopInstanceUID: d.sopInstanceUID });
      else groupsWithoutGeometry++;
    }
  for (const o of own) {
    const edited = current.some((d) => d.predecessors.includes(o.sopInstanceUID) || d.groups.some((g) => g.trackingUid && o.groups.some((og) => og.trackingUid === g.trackingUid)));
    if (!edited) continue;
    for (const g of o.groups)
      if (g.annotation && g.trackingUid && !readerUids.has(g.trackingUid)) rejected.push({ ...g, annotation: g.annotation, srSopInstanceUID: o.sopInstanceUID });
  }
  return {
    labels,
    rejected,
    completeBy: current.filter((d) => d.marksComplete).map((d) => d.sopInstanceUID),
    ownSrs: own.map((d) => d.sopInstanceUID),
    readerSrs: current.map((d) => d.sopInstanceUID),
    groupsWithoutGeometry,
  };
}
