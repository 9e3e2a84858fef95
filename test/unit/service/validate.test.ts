/** What the HTTP surface accepts: strict job ids, DICOM UIDs, Orthanc ids and single-valued query parameters. */
import { isValidUid } from '../../../src/dicom/uid';
import { isOrthancId, parseJobId, queryString, RequestError } from '../../../src/server/validate';

test('job ids are positive decimals: no hex, exponent, sign, leading zero, fraction or beyond 2^53', () => {
  expect(parseJobId('1')).toBe(1);
  expect(parseJobId('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  for (const bad of ['0x1', '1e0', '0', '01', '-1', '+1', '1.0', ' 1', '1 ', '', '9007199254740993', '12345678901234567', 'Infinity'])
    expect(() => parseJobId(bad)).toThrow(RequestError);
});

test('UIDs follow the DICOM grammar: digits and dots, components without leading zeros, at most 64 characters', () => {
  expect(isValidUid('1.2.840.10008.5.1.4.1.1.2')).toBe(true);
  expect(isValidUid('0.1.0')).toBe(true);
  expect(isValidUid(`1.${'2'.repeat(62)}`)).toBe(true);
  for (const bad of ['1'.repeat(60000), `1.${'2'.repeat(63)}`, '1.02', '1..2', '.1', '1.', '1.2a', '', '1 .2'])
    expect(isValidUid(bad)).toBe(false);
  expect(isValidUid(['1.2'])).toBe(false);
});

test('Orthanc ids are five groups of 8 lower-case hex digits', () => {
  expect(isOrthancId('27f7126f-4f66fb14-03f4081b-f9341db2-53925988')).toBe(true);
  for (const bad of ['27f7126f', '../../system', '27F7126F-4F66FB14-03F4081B-F9341DB2-53925988', '27f7126f-4f66fb14-03f4081b-f9341db2-53925988/x'])
    expect(isOrthancId(bad)).toBe(false);
});

test('query parameters given twice (an array) or with brackets (an object) are refused', () => {
  expect(queryString({ study: '1.2' }, 'study')).toBe('1.2');
  expect(queryString({}, 'study')).toBeUndefined();
  expect(() => queryString({ study: ['1', '2'] }, 'study')).toThrow(RequestError);
  expect(() => queryString({ study: { a: '1' } }, 'study')).toThrow(/given once/);
});
