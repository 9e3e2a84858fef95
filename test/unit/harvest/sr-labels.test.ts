import { buildImagingMeasurementReport } from '../../../src/report';
import { fromPart10 } from '../../../src/report/part10';
import { deriveUid } from '../../../src/report/uid';
import { placeAnnotation, POINT_BOX_MM } from '../../../src/harvest/label-boxes';
import { buildReaderSr, readerSrPart10, type ReaderMark } from '../../../src/harvest/simulated-reader';
import { readSrDocument, SrReadError, studyAnnotations } from '../../../src/harvest/sr-labels';
import { syntheticFindings } from '../../integration/report/fixtures';
import { smallVolume } from '../report/small-volume';

const { volume, sourceDataset } = smallVolume({ cols: 64, rows: 64, slices: 12, seed: 'harvest' });
const image = (k: number) => ({ sopClassUID: volume.slices[k].sopClassUID, sopInstanceUID: volume.slices[k].sopInstanceUID });
const srUids = (n: string) => ({ seriesInstanceUID: deriveUid('reader-series', n), sopInstanceUID: deriveUid('reader-sop', n) });

const ohifMarks: ReaderMark[] = [
  { kind: 'length', image: image(2), from: [10, 20], to: [20, 20] },
  { kind: 'bidirectional', image: image(3), long: [[30, 30], [40, 34]], short: [[35, 28], [35, 36]] },
  { kind: 'ellipse', image: image(4), box: [5, 6, 15, 10] },
  { kind: 'rectangle', image: image(5), box: [40, 40, 50, 48] },
  { kind: 'circle', image: image(6), centre: [30, 50], radius: 4 },
  { kind: 'arrow', image: image(7), tip: [12, 44], text: 'nodule?' },
];

describe('reading readers\' TID 1500 SRs (OHIF / dcmjs structure)', () => {
  const expected = [
    { shape: 'line', box: [10, 15, 20, 25] },
    { shape: 'bidirectional', box: [30, 28, 40, 36] },
    { shape: 'ellipse', box: [5, 6, 15, 10] },
    { shape: 'polygon', box: [40, 40, 50, 48] },
    { shape: 'circle', box: [26, 46, 34, 54] },
    { shape: 'point', box: [12, 44, 12, 44] },
  ];

  test.each([
    ['built in memory', () => buildReaderSr({ source: sourceDataset, ...srUids('a'), marks: ohifMarks })],
    ['read back from Part 10', () => fromPart10(readerSrPart10({ source: sourceDataset, ...srUids('a'), marks: ohifMarks }))],
  ])('every measurement shape gives a box on its image (%s)', (_what, make) => {
    const doc = readSrDocument(make());
    expect(doc.own).toBeUndefined();
    expect(doc.groups).toHaveLength(ohifMarks.length);
    doc.groups.forEach((g, i) => {
      expect(g.trackingUid).toMatch(/^[0-9.]+$/);
      expect(g.annotation?.sopInstanceUID).toBe(volume.slices[i + 2].sopInstanceUID);
      expect(g.annotation?.shape).toBe(expected[i].shape);
      g.annotation!.box.forEach((v, j) => expect(v).toBeCloseTo(expected[i].box[j], 6));
    });
  });

  test('a label is placed on its slice, with a 3D box around it; a point gets a box of POINT_BOX_MM', () => {
    const doc = readSrDocument(buildReaderSr({ source: sourceDataset, ...srUids('b'), marks: ohifMarks }));
    const line = placeAnnotation(doc.groups[0].annotation!, volume)!;
    expect(line.sliceIndex).toBe(2);
    const z = volume.slices[2].position[2];
    expect(line.bboxLPS[2]).toBeLessThan(z);
    expect(line.bboxLPS[5]).toBeGreaterThan(z);
    // 10 px at 0.8 mm: x from -16 + 10 * 0.8 to -16 + 20 * 0.8
    expect(line.bboxLPS[0]).toBeCloseTo(-8, 6);
    expect(line.bboxLPS[3]).toBeCloseTo(0, 6);
    const point = placeAnnotation(doc.groups[5].annotation!, volume)!;
    expect(point.bboxLPS[3] - point.bboxLPS[0]).toBeCloseTo(POINT_BOX_MM, 6);
    const elsewhere = placeAnnotation({ ...doc.groups[0].annotation!, sopInstanceUID: deriveUid('not in the volume') }, volume);
    expect(elsewhere).toBeUndefined();
  });

  test('lens-pacs\' own SR is recognised and gives no label', () => {
    const findings = syntheticFindings(volume, 3);
    const own = buildImagingMeasurementReport({ findings, volume, sourceDataset }).dataset;
    const doc = readSrDocument(own);
    expect(doc.own).toMatch(/lens-pacs/);
    expect(doc.groups.map((g) => g.trackingUid)).toEqual(findings.lesions.map((l) => l.trackingUid));
    const a = studyAnnotations([own]);
    expect(a.labels).toEqual([]);
    expect(a.rejected).toEqual([]);
    expect(a.ownSrs).toEqual([own.SOPInstanceUID]);
  });

  test('an edited copy of our report: removed findings are rejected, kept and added ones are labels', () => {
    const findings = syntheticFindings(volume, 3);
    const own = buildImagingMeasurementReport({ findings, volume, sourceDataset }).dataset;
    const [kept, removed, alsoKept] = findings.lesions;
    const box = (l: typeof kept): [number, number, number, number] => l.keySlice.box;
    const at = (l: typeof kept) => ({ sopClassUID: volume.slices[0].sopClassUID, sopInstanceUID: l.keySlice.sopInstanceUID });
    const edited = buildReaderSr({
      source: sourceDataset,
      ...srUids('edit'),
      marks: [
        { kind: 'rectangle', image: at(kept), box: box(kept), trackingUid: kept.trackingUid },
        { kind: 'rectangle', image: at(alsoKept), box: box(alsoKept), trackingUid: alsoKept.trackingUid },
        { kind: 'length', image: image(9), from: [50, 10], to: [58, 14] },
      ],
    });
    const a = studyAnnotations([own, edited]);
    expect(a.rejected.map((r) => r.trackingUid)).toEqual([removed.trackingUid]);
    expect(a.rejected[0].annotation.box).toEqual(removed.keySlice.box);
    expect(a.labels.map((l) => l.trackingUid)).toEqual([kept.trackingUid, alsoKept.trackingUid, expect.any(String)]);
    expect(a.readerSrs).toEqual([edited.SOPInstanceUID]);
  });

  test('an edit that removed every finding names our SR as its predecessor: all of ours are rejected', () => {
    const findings = syntheticFindings(volume, 2);
    const own = buildImagingMeasurementReport({ findings, volume, sourceDataset }).dataset;
    const edited = buildReaderSr({
      source: sourceDataset, ...srUids('empty-edit'),
      marks: [{ kind: 'length', image: image(1), from: [2, 2], to: [8, 8] }],
      predecessor: { seriesInstanceUID: own.SeriesInstanceUID, sopInstanceUID: own.SOPInstanceUID },
    });
    const a = studyAnnotations([own, edited]);
    expect(a.rejected.map((r) => r.trackingUid)).toEqual(findings.lesions.map((l) => l.trackingUid));
    // Without the predecessor reference (and no shared UID) the reader's SR is independent: nothing is rejected.
    const independent = buildReaderSr({ source: sourceDataset, ...srUids('indep'), marks: [{ kind: 'length', image: image(1), from: [2, 2], to: [8, 8] }] });
    expect(studyAnnotations([own, independent]).rejected).toEqual([]);
  });

  test('a later version of a reader\'s SR supersedes the earlier one', () => {
    const v1 = buildReaderSr({ source: sourceDataset, ...srUids('v1'), marks: ohifMarks.slice(0, 2) });
    const v2 = buildReaderSr({ source: sourceDataset, ...srUids('v2'), marks: ohifMarks.slice(0, 1), predecessor: { seriesInstanceUID: v1.SeriesInstanceUID, sopInstanceUID: v1.SOPInstanceUID } });
    const a = studyAnnotations([v1, v2]);
    expect(a.readerSrs).toEqual([v2.SOPInstanceUID]);
    expect(a.labels).toHaveLength(1);
  });

  test('"All lesions annotated" marks the study as complete and is not itself a label', () => {
    const sr = fromPart10(readerSrPart10({ source: sourceDataset, ...srUids('c'), marks: ohifMarks.slice(0, 2), complete: true }));
    const a = studyAnnotations([sr]);
    expect(a.completeBy).toEqual([sr.SOPInstanceUID]);
    expect(a.labels).toHaveLength(2);
    expect(studyAnnotations([buildReaderSr({ source: sourceDataset, ...srUids('d'), marks: ohifMarks.slice(0, 2) })]).completeBy).toEqual([]);
  });

  test('an SR without its identity is refused with a clear error', () => {
    const sr = buildReaderSr({ source: sourceDataset, ...srUids('f'), marks: ohifMarks.slice(0, 1) });
    delete sr.SOPInstanceUID;
    expect(() => studyAnnotations([sr])).toThrow(SrReadError);
  });

  test('a group without image coordinates is counted, not turned into a box', () => {
    const sr = buildReaderSr({ source: sourceDataset, ...srUids('e'), marks: ohifMarks.slice(0, 1) });
    const group = sr.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence[0];
    group.ContentSequence = group.ContentSequence.filter((c: any) => c.ValueType !== 'NUM');
    const a = studyAnnotations([sr]);
    expect(a.labels).toEqual([]);
    expect(a.groupsWithoutGeometry).toBe(1);
  });
});
