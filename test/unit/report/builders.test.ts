import { buildImagingMeasurementReport, buildSegmentation, buildReportObjects, lesionSummary } from '../../../src/report';
import { srSummary, segSummary } from '../../../src/report/store';
import { fromPart10 } from '../../../src/report/part10';
import { unpackFrame } from '../../../src/report/seg/masks';
import { syntheticFindings } from '../../integration/report/fixtures';
import { smallVolume } from './small-volume';

const content = (ds: any, code: string) => ds.ContentSequence.find((c: any) => c.ConceptNameCodeSequence?.[0]?.CodeValue === code);

describe('SR builder (TID 1500)', () => {
  const { volume, sourceDataset } = smallVolume();
  const findings = syntheticFindings(volume, 3);

  test('one measurement group per lesion, linked by tracking UID, with box, axes and score', () => {
    const { dataset } = buildImagingMeasurementReport({ findings, volume, sourceDataset });
    expect(dataset.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.88.34');
    expect(dataset.Modality).toBe('SR');
    expect(dataset.SeriesDescription).toBe('LENS lesions (lens-ulb 0.1.0)');
    expect(dataset.ContentTemplateSequence[0]).toEqual({ MappingResource: 'DCMR', TemplateIdentifier: '1500' });
    expect(dataset.PatientID).toBe('PH-1');
    expect(dataset.StudyInstanceUID).toBe(volume.studyInstanceUID);
    expect(srSummary(dataset).trackingUids).toEqual(findings.lesions.map((l) => l.trackingUid));
    const groups = content(dataset, '126010').ContentSequence;
    groups.forEach((g: any, n: number) => {
      const lesion = findings.lesions[n];
      const byCode = (c: string) => g.ContentSequence.find((i: any) => i.ConceptNameCodeSequence[0].CodeValue === c);
      expect(g.ContentSequence.find((i: any) => i.ValueType === 'UIDREF').ConceptNameCodeSequence[0].CodeValue).toBe('112040');
      expect(byCode('121071').ConceptCodeSequence[0].CodeValue).toBe('52988006');
      expect(byCode('363698007')).toBeDefined(); // every synthetic lesion has a known type
      const scoord = byCode('111030');
      expect(scoord.GraphicData).toHaveLength(10);
      expect(scoord.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID).toBe(lesion.keySlice.sopInstanceUID);
      expect(Number(byCode('103339001').MeasuredValueSequence[0].NumericValue)).toBeCloseTo(lesion.longAxisMm, 1);
      expect(Number(byCode('score').MeasuredValueSequence[0].NumericValue)).toBeCloseTo(lesion.score, 3);
      // What OHIF needs to list the group in its measurement panel: the first NUM is INFERRED FROM the box
      // (cornerstone's SR adapters read the geometry there), and a Comment gives the label.
      const firstNum = g.ContentSequence.find((i: any) => i.ValueType === 'NUM');
      expect(firstNum.ConceptNameCodeSequence[0].CodeValue).toBe('103339001');
      for (const axis of ['103339001', '103340004']) {
        const source = byCode(axis).ContentSequence[0];
        expect(source).toMatchObject({ RelationshipType: 'INFERRED FROM', ValueType: 'SCOORD', GraphicType: 'POLYLINE', GraphicData: scoord.GraphicData });
        expect(source.ConceptNameCodeSequence[0].CodeValue).toBe('121112');
        expect(source.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID).toBe(lesion.keySlice.sopInstanceUID);
      }
      expect(byCode('121106')).toMatchObject({ RelationshipType: 'CONTAINS', ValueType: 'TEXT', TextValue: lesionSummary(lesion) });
    });
    // Evidence lists every key image.
    const evidence = dataset.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0];
    expect(evidence.SeriesInstanceUID).toBe(volume.seriesInstanceUID);
    const keys = new Set(findings.lesions.map((l) => l.keySlice.sopInstanceUID));
    expect(new Set(evidence.ReferencedSOPSequence.map((r: any) => r.ReferencedSOPInstanceUID))).toEqual(keys);
  });

  test('a study without lesions gets a report saying so', () => {
    const { dataset } = buildImagingMeasurementReport({ findings: { ...findings, lesions: [] }, volume, sourceDataset });
    expect(content(dataset, '126010').ContentSequence).toBeUndefined();
    const evaluations = content(dataset, 'C0034375').ContentSequence;
    expect(evaluations.map((e: any) => e.ConceptCodeSequence?.[0]?.CodeValue ?? e.TextValue)).toEqual(['111241', 'No lesion detected by lens-ulb 0.1.0']);
    expect(buildSegmentation({ findings: { ...findings, lesions: [] }, volume, sourceDataset })).toBeUndefined();
  });

  test('bad input is refused with the reason', () => {
    const bad = (f: any) => () => buildImagingMeasurementReport({ findings: f, volume, sourceDataset });
    expect(bad({ ...findings, lesions: [{ ...findings.lesions[0], keySlice: { sopInstanceUID: '1.2.3', box: [1, 1, 2, 2] } }] })).toThrow(/key slice 1\.2\.3 is not an image of series/);
    expect(bad({ ...findings, lesions: [findings.lesions[0], findings.lesions[0]] })).toThrow(/unique/);
    expect(bad({ ...findings, model: { name: 'lens ulb', version: '1' } })).toThrow(/model/);
    expect(bad({ ...findings, seriesInstanceUID: '1.2.3' })).toThrow(/volume is series/);
    expect(bad({ ...findings, lesions: [{ ...findings.lesions[0], longAxisMm: NaN }] })).toThrow(/longAxisMm/);
  });
});

describe('SEG builder', () => {
  const { volume, sourceDataset } = smallVolume();
  const findings = syntheticFindings(volume, 4);

  test('one segment per lesion with tracking UID, label, colour; frames only where the lesion is', () => {
    const seg = buildSegmentation({ findings, volume, sourceDataset })!;
    const ds = seg.dataset;
    expect(ds.SegmentationType).toBe('BINARY');
    expect(ds.SeriesDescription).toBe('LENS lesions, box-fitted ellipsoid (lens-ulb 0.1.0)');
    expect(ds.ContentQualification).toBeUndefined();
    expect(ds.ImageComments).toBeUndefined();
    expect(segSummary(ds).segments).toEqual(findings.lesions.map((l) => ({ label: expect.stringMatching(new RegExp(`^Lesion ${l.id} \\(`)), trackingUid: l.trackingUid })));
    const colours = new Set(ds.SegmentSequence.map((s: any) => s.RecommendedDisplayCIELabValue.join(',')));
    expect(colours.size).toBe(findings.lesions.length);
    expect(ds.SegmentSequence.every((s: any) => s.SegmentAlgorithmType === 'AUTOMATIC')).toBe(true);
    expect(ds.NumberOfFrames).toBe(ds.PerFrameFunctionalGroupsSequence.length);
    // Each frame refers to the CT slice at its own position.
    for (const f of ds.PerFrameFunctionalGroupsSequence) {
      const [segNo, pos] = f.FrameContentSequence[0].DimensionIndexValues;
      expect(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber).toBe(segNo);
      const slice = volume.slices[pos - 1];
      expect(f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID).toBe(slice.sopInstanceUID);
      expect(f.PlanePositionSequence[0].ImagePositionPatient.map(Number)).toEqual(slice.position);
    }
  });

  test('pixel data survives Part 10 and matches the frames', () => {
    const [obj] = buildReportObjects({ findings, volume, sourceDataset }).filter((o) => o.role === 'seg');
    const back = fromPart10(obj.part10);
    expect(back._meta.TransferSyntaxUID).toBe('1.2.840.10008.1.2.1');
    const [cols, rows] = volume.dims;
    const packed = new Uint8Array(back.PixelData[0]);
    expect(packed.length).toBeGreaterThanOrEqual(Math.ceil((back.NumberOfFrames * rows * cols) / 8));
    for (let f = 0; f < back.NumberOfFrames; f++) {
      expect(unpackFrame(packed, f, rows * cols).some((v) => v === 1)).toBe(true);
    }
  });

  test('rebuilding gives the same UIDs (idempotent), a new model version new ones', () => {
    const a = buildReportObjects({ findings, volume, sourceDataset });
    const b = buildReportObjects({ findings, volume, sourceDataset });
    expect(b.map((o) => o.sopInstanceUID)).toEqual(a.map((o) => o.sopInstanceUID));
    const c = buildReportObjects({ findings: { ...findings, model: { ...findings.model, version: '0.2.0' } }, volume, sourceDataset });
    expect(c.map((o) => o.sopInstanceUID)).not.toEqual(a.map((o) => o.sopInstanceUID));
  });
});
