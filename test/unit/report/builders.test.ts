import { buildImagingMeasurementReport, buildSegmentation, buildReportObjects, lesionSummary, toleratedComment } from '../../../src/report';
import { vrProblem } from '../../../src/dicom/vr';
import { srSummary, segSummary } from '../../../src/report/store';
import { fromPart10 } from '../../../src/report/part10';
import { unpackFrame } from '../../../src/report/seg/masks';
import { modelMasks, syntheticFindings } from '../../integration/report/fixtures';
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

  test('what the volume tolerated is a Comment in the Qualitative Evaluations; the measurement groups keep their shape', () => {
    const notes = ['slice thickness 8 mm, more than 5 mm', 'ImageType has two values'];
    const plain = buildImagingMeasurementReport({ findings, volume, sourceDataset }).dataset;
    const { dataset } = buildImagingMeasurementReport({ findings, volume: { ...volume, tolerated: notes }, sourceDataset });
    expect(content(dataset, '126010')).toEqual(content(plain, '126010'));
    expect(content(plain, 'C0034375')).toBeUndefined();
    const evaluations = content(dataset, 'C0034375').ContentSequence;
    expect(evaluations).toEqual(
      notes.map((n) => ({
        RelationshipType: 'CONTAINS',
        ValueType: 'TEXT',
        ConceptNameCodeSequence: [{ CodeValue: '121106', CodingSchemeDesignator: 'DCM', CodeMeaning: 'Comment' }],
        TextValue: toleratedComment(n),
      })),
    );
    // Without lesions the notes follow the "nothing found" summary.
    const none = buildImagingMeasurementReport({ findings: { ...findings, lesions: [] }, volume: { ...volume, tolerated: notes }, sourceDataset }).dataset;
    expect(content(none, 'C0034375').ContentSequence.map((e: any) => e.ConceptCodeSequence?.[0]?.CodeValue ?? e.TextValue)).toEqual([
      '111241',
      'No lesion detected by lens-ulb 0.1.0',
      ...notes.map(toleratedComment),
    ]);
  });

  test('a model name and version longer than LO allows: shortened where LO, whole in the TEXT items', () => {
    const model = { ...findings.model, name: `lens-${'x'.repeat(80)}`, version: `1.0.0+${'build'.repeat(15)}` };
    const { dataset } = buildImagingMeasurementReport({ findings: { ...findings, model }, volume, sourceDataset });
    for (const k of ['SeriesDescription', 'ManufacturerModelName', 'SoftwareVersions']) {
      expect({ [k]: vrProblem('LO', dataset[k]) }).toEqual({ [k]: undefined });
      expect(dataset[k]).toMatch(/\.\.\.$/);
    }
    const group = content(dataset, '126010').ContentSequence[0];
    const text = (code: string) => group.ContentSequence.find((i: any) => i.ConceptNameCodeSequence[0].CodeValue === code).TextValue;
    expect([text('111001'), text('111003')]).toEqual([model.name, model.version]);
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

  test('the description says where the masks come from and fits LO with any model label', () => {
    const mixed = new Map([...modelMasks(volume, findings, [1])]);
    const ds = buildSegmentation({ findings, volume, sourceDataset, masks: mixed })!.dataset;
    expect(ds.ContentDescription).toBe('Lesions: model mask + box-fitted ellipsoid by lens-ulb 0.1.0');
    expect(ds.SeriesDescription).toBe('LENS lesions, model mask + box-fitted ellipsoid (lens-ulb 0.1.0)');
    const model = { ...findings.model, name: `lens-${'x'.repeat(80)}`, version: `1.0.0+${'build'.repeat(15)}` };
    const long = buildSegmentation({ findings: { ...findings, model }, volume, sourceDataset, masks: mixed })!.dataset;
    const lo = { ContentDescription: long.ContentDescription, SeriesDescription: long.SeriesDescription, ManufacturerModelName: long.ManufacturerModelName, SoftwareVersions: long.SoftwareVersions, DeviceSerialNumber: long.DeviceSerialNumber, SegmentAlgorithmName: long.SegmentSequence[0].SegmentAlgorithmName, AlgorithmName: long.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmName, AlgorithmVersion: long.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion };
    for (const [k, v] of Object.entries(lo)) expect({ [k]: vrProblem('LO', v) }).toEqual({ [k]: undefined });
    expect(long.ContentDescription).toMatch(/^Lesions: model mask \+ box-fitted ellipsoid by lens-x+\.\.\.$/);
  });

  test('rebuilding gives the same UIDs (idempotent), a new model version new ones', () => {
    const a = buildReportObjects({ findings, volume, sourceDataset });
    const b = buildReportObjects({ findings, volume, sourceDataset });
    expect(b.map((o) => o.sopInstanceUID)).toEqual(a.map((o) => o.sopInstanceUID));
    const c = buildReportObjects({ findings: { ...findings, model: { ...findings.model, version: '0.2.0' } }, volume, sourceDataset });
    expect(c.map((o) => o.sopInstanceUID)).not.toEqual(a.map((o) => o.sopInstanceUID));
  });
});
