import { CodedConcept, codes } from '../../../src/report/codes';
import {
  CodeContentItem,
  ContainerContentItem,
  NumContentItem,
  ScoordContentItem,
  TextContentItem,
  UIDRefContentItem,
} from '../../../src/report/sr/content-items';
import { ImageRegion, TrackingIdentifier, ImageLibrary, AlgorithmIdentification } from '../../../src/report/sr/templates';
import { formatDS } from '../../../src/dicom/vr';

const img = { sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: '1.2.3.4' };

describe('content items validate their arguments', () => {
  test('CodedConcept rejects empty or over-long parts', () => {
    expect(() => new CodedConcept('', 'DCM', 'x')).toThrow(/code value/);
    expect(() => new CodedConcept('1', '', 'x')).toThrow(/scheme/);
    expect(() => new CodedConcept('1', 'DCM', 'x'.repeat(65))).toThrow(/meaning/);
    expect(new CodedConcept('1', 'DCM', 'x').toItem()).toEqual({ CodeValue: '1', CodingSchemeDesignator: 'DCM', CodeMeaning: 'x' });
  });

  test('NUM needs a finite value and a unit', () => {
    expect(() => new NumContentItem(codes.LongAxis, NaN, codes.Millimeter, 'CONTAINS')).toThrow(/finite/);
    expect(() => new NumContentItem(codes.LongAxis, 3, undefined as any, 'CONTAINS')).toThrow(/unit/);
    const ds = new NumContentItem(codes.LongAxis, 12.5, codes.Millimeter, 'CONTAINS').toDataset();
    expect(ds.MeasuredValueSequence[0].NumericValue).toBe('12.5');
    expect(ds.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue).toBe('mm');
  });

  test('UIDREF rejects malformed UIDs', () => {
    expect(() => new UIDRefContentItem(codes.TrackingUniqueIdentifier, '1.02.3', 'HAS OBS CONTEXT')).toThrow(/not a valid DICOM UID/);
    expect(() => new UIDRefContentItem(codes.TrackingUniqueIdentifier, '1.2.' + '9'.repeat(70), 'HAS OBS CONTEXT')).toThrow(/UID/);
  });

  test('TEXT rejects empty text; children need a relationship', () => {
    expect(() => new TextContentItem(codes.Finding, '  ', 'CONTAINS')).toThrow(/non-empty/);
    expect(() => new CodeContentItem(codes.Finding, codes.Lesion, undefined as any)).toThrow(/relationship/);
  });

  test('SCOORD checks its points and renders SELECTED FROM its image', () => {
    expect(() => new ScoordContentItem(codes.ImageRegion, 'POLYLINE', [[1, 2]], img, 'CONTAINS')).toThrow(/at least 2/);
    expect(() => new ScoordContentItem(codes.ImageRegion, 'POINT', [[1, NaN]], img, 'CONTAINS')).toThrow(/finite/);
    const ds = new ImageRegion([10, 20, 30, 45], img).items[0].toDataset();
    expect(ds.GraphicType).toBe('POLYLINE');
    expect(ds.GraphicData).toEqual([10, 20, 30, 20, 30, 45, 10, 45, 10, 20]);
    expect(ds.ContentSequence[0]).toMatchObject({ RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE' });
    expect(ds.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID).toBe('1.2.3.4');
  });

  test('templates refuse bad input', () => {
    expect(() => new ImageRegion([30, 20, 10, 45], img)).toThrow(/empty or inverted/);
    expect(() => new TrackingIdentifier('x', 'Lesion 1')).toThrow(/UID/);
    expect(() => new ImageLibrary([])).toThrow(/at least one image/);
    expect(() => new AlgorithmIdentification({ name: '', version: '1' })).toThrow(/name/);
  });

  test('tracking UID is the first UIDREF of a group', () => {
    const items = new TrackingIdentifier('1.2.3', 'Lesion 1').items.map((i) => i.toDataset());
    expect(items[0]).toMatchObject({ ValueType: 'UIDREF', UID: '1.2.3', RelationshipType: 'HAS OBS CONTEXT' });
    expect(items[1]).toMatchObject({ ValueType: 'TEXT', TextValue: 'Lesion 1' });
  });

  test('a container lists its children in order', () => {
    const c = new ContainerContentItem(codes.ImagingMeasurements, [new TextContentItem(codes.Finding, 'a', 'CONTAINS')]).toDataset();
    expect(c.ContinuityOfContent).toBe('SEPARATE');
    expect(c.ContentSequence).toHaveLength(1);
  });

  test('DS values fit 16 characters', () => {
    expect(formatDS(1 / 3).length).toBeLessThanOrEqual(16);
    expect(Number(formatDS(1 / 3))).toBeCloseTo(1 / 3, 10);
    expect(formatDS(-123456.789012345678)).toMatch(/^-123456\.78901/);
    expect(formatDS(-0)).toBe('0');
    expect(formatDS(1e-20).length).toBeLessThanOrEqual(16);
  });
});
