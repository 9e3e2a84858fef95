/** The VR rules every written text goes through (src/dicom/vr.ts): shorten free text, refuse what must not be cut. */
import { LensError } from '../../../src/errors';
import { DicomValueError, assertDatasetValues, checkValue, fitText, formatDS, formatIS, vrProblem } from '../../../src/dicom/vr';
import { toPart10 } from '../../../src/report/part10';
import { patientStudyModules } from '../../../src/report/source-modules';
import { deriveUid } from '../../../src/report/uid';

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

describe('fitText', () => {
  test('text that fits is returned unchanged', () => {
    expect(fitText('LO', 'Lesions: model mask by lens-ulb 0.1.0')).toBe('Lesions: model mask by lens-ulb 0.1.0');
    expect(fitText('LO', 'x'.repeat(64))).toBe('x'.repeat(64));
  });

  test('the SEG description that once failed dciodvfy becomes a valid LO, cut on a word and marked', () => {
    const long = 'Lesions found by lens-ulb 0.1.0 (model mask + box-fitted ellipsoid)';
    expect(vrProblem('LO', long)).toMatch(/more than LO allows \(64\)/);
    const fitted = fitText('LO', long);
    expect(vrProblem('LO', fitted)).toBeUndefined();
    expect(fitted).toBe('Lesions found by lens-ulb 0.1.0 (model mask + box-fitted...');
  });

  test('a long token (no short word to drop) is cut inside it', () => {
    const fitted = fitText('SH', 'lens-ulb-resnet50-fpn');
    expect(fitted).toBe('lens-ulb-resn...');
    expect(fitted).toHaveLength(16);
  });

  test('limits count UTF-8 bytes and never split a character', () => {
    const fitted = fitText('LO', 'é'.repeat(64));
    expect(utf8(fitted)).toBeLessThanOrEqual(64);
    expect(fitted).toBe(`${'é'.repeat(30)}...`);
    expect(fitText('SH', '😀'.repeat(10))).toBe(`${'😀'.repeat(3)}...`);
  });

  test('characters the VR forbids are replaced; texts keep line breaks and backslashes', () => {
    expect(fitText('LO', 'ORIGINAL\\PRIMARY\tline\nbreak')).toBe('ORIGINAL/PRIMARY line break');
    expect(fitText('UT', 'ORIGINAL\\PRIMARY\r\nnext')).toBe('ORIGINAL\\PRIMARY\r\nnext');
    expect(fitText('ST', 'a\u0000b')).toBe('a b');
  });

  test.each(['SH', 'LO', 'ST', 'LT'] as const)('%s: any text comes out valid', (vr) => {
    for (const text of ['word '.repeat(3000), 'x'.repeat(20000), 'ä ü ö '.repeat(2000), `${'a'.repeat(15)} ${'b'.repeat(3000)}`]) {
      expect(vrProblem(vr, fitText(vr, text))).toBeUndefined();
    }
  });
});

describe('checkValue refuses instead of cutting', () => {
  test('a UID longer than 64 characters', () => {
    const uid = `1.2.${'3'.repeat(70)}`;
    expect(() => checkValue('UI', uid, 'SOPInstanceUID')).toThrow(DicomValueError);
    expect(() => checkValue('UI', deriveUid('x'), 'SOPInstanceUID')).not.toThrow();
  });

  test('a code string with lower case, and an over-long one', () => {
    expect(() => checkValue('CS', 'lesions', 'ContentLabel')).toThrow(/ContentLabel \(CS\) is not a valid CS/);
    expect(() => checkValue('CS', 'LESIONS_OF_EVERY_KIND', 'ContentLabel')).toThrow(/more than CS allows \(16\)/);
    expect(checkValue('CS', 'LESIONS', 'ContentLabel')).toBe('LESIONS');
  });

  test('the error is a permanent LensError whose message holds no value', () => {
    let error: unknown;
    try {
      checkValue('LO', 'Doe^Jane secret id 1234567890'.repeat(3), 'PatientID');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LensError);
    expect(error).toMatchObject({ reason: 'invalid-dicom-value', transient: false });
    expect((error as Error).message).not.toContain('secret');
  });

  test('dates, times, numbers', () => {
    expect(vrProblem('DA', '20261201')).toBeUndefined();
    expect(vrProblem('DA', '2026.12.01')).toBeDefined();
    expect(vrProblem('TM', '120000.123456')).toBeUndefined();
    expect(vrProblem('TM', '12:00:00')).toBeDefined();
    expect(vrProblem('IS', '2147483648')).toBeDefined();
    expect(vrProblem('DS', '-1.5e-3')).toBeUndefined();
    expect(vrProblem('DS', '0.12345678901234567')).toBeDefined();
    expect(vrProblem('AS', '061Y')).toBeUndefined();
    expect(vrProblem('PN', `${'A'.repeat(64)}=${'B'.repeat(10)}`)).toBeUndefined();
    expect(vrProblem('PN', 'A'.repeat(65))).toBeDefined();
  });

  test('formatDS and formatIS', () => {
    expect(formatDS(0.1 + 0.2)).toBe('0.3');
    expect(formatDS(-123456.78901234567)).toHaveLength(16);
    expect(() => formatDS(Infinity)).toThrow(DicomValueError);
    expect(formatIS(9001)).toBe('9001');
    expect(() => formatIS(2 ** 31)).toThrow(DicomValueError);
    expect(() => formatIS(1.5)).toThrow(DicomValueError);
  });
});

describe('assertDatasetValues: the last check before writing', () => {
  test('finds an invalid value inside a sequence and names where it is', () => {
    const ds = { Modality: 'SEG', SegmentSequence: [{ SegmentNumber: 1, SegmentLabel: 'L'.repeat(65) }] };
    expect(() => assertDatasetValues(ds)).toThrow(/SegmentSequence\[0\]\.SegmentLabel \(LO\) is 65 bytes long/);
  });

  test('reads PN as naturalized objects and numbers as the text written', () => {
    expect(() => assertDatasetValues({ PatientName: [{ Alphabetic: 'Doe^Jane' }], SeriesNumber: 9001, SliceThickness: 2.5 })).not.toThrow();
    expect(() => assertDatasetValues({ PatientName: [{ Alphabetic: 'D'.repeat(70) }] })).toThrow(/PatientName \(PN\)/);
    expect(() => assertDatasetValues({ SeriesNumber: 2 ** 40 })).toThrow(/SeriesNumber \(IS\)/);
  });

  test('toPart10 refuses an object with an over-long LO', () => {
    expect(() => toPart10({ SOPClassUID: '1.2.3', SOPInstanceUID: '1.2.3.4', ContentDescription: 'd'.repeat(65) })).toThrow(DicomValueError);
  });
});

describe('patient and study attributes copied from the source image', () => {
  const source = { StudyInstanceUID: deriveUid('study'), PatientID: 'P1', PatientName: [{ Alphabetic: 'Doe^Jane' }], StudyDate: '20240101', StudyID: '1', AccessionNumber: 'A1' };

  test('identifiers are copied unchanged; an invalid one refuses the report without showing it', () => {
    expect(patientStudyModules(source)).toMatchObject({ PatientID: 'P1', PatientName: [{ Alphabetic: 'Doe^Jane' }], AccessionNumber: 'A1' });
    const longId = 'PATIENT-'.repeat(10);
    expect(() => patientStudyModules({ ...source, PatientID: longId })).toThrow(/source image PatientID \(LO\) is 80 bytes long/);
    expect(() => patientStudyModules({ ...source, PatientID: longId })).not.toThrow(new RegExp(longId));
  });

  test('ACR-NEMA dates and times (older files) become DA and TM', () => {
    expect(patientStudyModules({ ...source, StudyDate: '1993.04.30', StudyTime: '11:27:24' })).toMatchObject({ StudyDate: '19930430', StudyTime: '112724' });
  });

  test('an invalid Type 2 value is written empty, an invalid Type 3 one left out, a long description shortened', () => {
    const out = patientStudyModules({ ...source, StudyDate: '2024-01-01', PatientSex: 'male', PatientAge: '61 years', StudyDescription: `CT chest ${'with contrast '.repeat(8)}` });
    expect(out).toMatchObject({ StudyDate: '', PatientSex: '' });
    expect(out).not.toHaveProperty('PatientAge');
    expect(vrProblem('LO', out.StudyDescription)).toBeUndefined();
    expect(out.StudyDescription).toMatch(/^CT chest with contrast .*\.\.\.$/);
  });
});
