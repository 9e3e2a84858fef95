/**
 * The value representations (PS3.5 6.2) of what lens-pacs writes: their length limits and character rules, a way
 * to shorten free text so that it fits, and a check that refuses any value that would make an object invalid.
 *
 * Two kinds of text: free text written for a reader (descriptions, labels, names shown in a viewer) is shortened
 * at the limit (`fitText`); values that identify something (UIDs, codes, patient and study identifiers) are never
 * cut, because a cut one would silently identify something else, so they are refused (`checkValue`). Every dataset
 * is checked as a whole before it is written (`assertDatasetValues`), so that nothing invalid leaves the product
 * whatever a builder forgot. Messages name the attribute and the problem, never the value: it may be a patient's.
 */
import { LensError } from '../errors';
import { isValidUid } from './uid';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');
const { DicomMetaDictionary } = dcmjs.data;

/** A value that would make a DICOM object invalid; the data (or the code) must change, so never transient. */
export class DicomValueError extends LensError {
  constructor(message: string) {
    super(message, 'invalid-dicom-value', false);
  }
}

/**
 * Maximum length in bytes of one value (PS3.5 Table 6.2-1). The standard counts characters for LO, SH, ST, LT, PN
 * and UC; counting UTF-8 bytes is never more permissive, and validators that count bytes accept it too.
 */
export const VR_MAX_LENGTH = {
  AE: 16,
  AS: 4,
  CS: 16,
  DA: 8,
  DS: 16,
  DT: 26,
  IS: 12,
  LO: 64,
  LT: 10240,
  /** Per component group (alphabetic, ideographic, phonetic). */
  PN: 64,
  SH: 16,
  ST: 1024,
  TM: 14,
  UC: 0xfffffffe,
  UI: 64,
  UR: 0xfffffffe,
  UT: 0xfffffffe,
} as const;

export type StringVR = keyof typeof VR_MAX_LENGTH;
/** The VRs of free text that may be shortened. */
export type FreeTextVR = 'SH' | 'LO' | 'ST' | 'LT' | 'UT' | 'UC';

/** Texts (ST, LT, UT) may hold line breaks, tabs and form feeds, and backslashes; ESC is allowed everywhere. */
const TEXT_VRS = new Set(['ST', 'LT', 'UT']);
const CONTROL_EXCEPT_ESC = /[\u0000-\u001a\u001c-\u001f\u007f]/;
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000e-\u001a\u001c-\u001f\u007f]/;

const PATTERNS: Partial<Record<StringVR, RegExp>> = {
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9_ ]*$/,
  DA: /^\d{8}$/,
  DS: /^ *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *$/,
  DT: /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/,
  IS: /^ *[+-]?\d+ *$/,
  TM: /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/,
};

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Why `value` is not a valid single value of `vr`, or undefined when it is. */
export function vrProblem(vr: StringVR, value: string): string | undefined {
  if (typeof value !== 'string') return `is not a string (${typeof value})`;
  if (value === '') return undefined;
  if (vr === 'UI') return isValidUid(value) ? undefined : 'is not a UID (digits and dots, at most 64 characters)';
  if (vr === 'PN') {
    const groups = value.split('=');
    if (groups.length > 3) return 'has more than 3 component groups';
    for (const g of groups) {
      if (bytes(g) > VR_MAX_LENGTH.PN) return `has a component group of ${bytes(g)} bytes, more than ${VR_MAX_LENGTH.PN}`;
      if (g.split('^').length > 5) return 'has more than 5 components in a group';
    }
  } else if (bytes(value) > VR_MAX_LENGTH[vr]) {
    return `is ${bytes(value)} bytes long, more than ${vr} allows (${VR_MAX_LENGTH[vr]})`;
  }
  if (!TEXT_VRS.has(vr) && value.includes('\\')) return 'holds a backslash (the value delimiter)';
  if ((TEXT_VRS.has(vr) ? CONTROL_IN_TEXT : CONTROL_EXCEPT_ESC).test(value)) return 'holds a control character';
  const pattern = PATTERNS[vr];
  if (pattern && !pattern.test(value)) return `is not a valid ${vr}`;
  if (vr === 'IS' && Math.abs(Number(value)) > 2 ** 31 - 1) return 'is outside the IS range';
  if (vr === 'DS' && !Number.isFinite(Number(value))) return 'is not a finite number';
  return undefined;
}

/** The value itself when it is a valid `vr` value; otherwise a DicomValueError naming `what`. For values never cut. */
export function checkValue(vr: StringVR, value: string, what: string): string {
  const problem = vrProblem(vr, value);
  if (problem) throw new DicomValueError(`${what} (${vr}) ${problem}`);
  return value;
}

const ELLIPSIS = '...';
const WORD_CUT_MAX = 12;

/**
 * Free text made into a valid `vr` value: characters the VR forbids become spaces (backslashes a slash), and text
 * longer than the VR allows is cut, on a word boundary when that drops no more than a short word, and ends in "..."
 * so that a reader sees it was shortened. Text that fits is returned unchanged.
 */
export function fitText(vr: FreeTextVR, text: string): string {
  if (typeof text !== 'string') throw new DicomValueError(`fitText: ${vr} text must be a string (got ${typeof text})`);
  let s = text;
  if (!TEXT_VRS.has(vr)) s = s.replace(/\\/g, '/');
  s = s.replace(new RegExp((TEXT_VRS.has(vr) ? CONTROL_IN_TEXT : CONTROL_EXCEPT_ESC).source, 'g'), ' ');
  const max = VR_MAX_LENGTH[vr];
  if (bytes(s) <= max) return s;
  // Code points, not UTF-16 units: a cut never splits a character.
  const chars = Array.from(s);
  const room = max - ELLIPSIS.length;
  let n = 0;
  let used = 0;
  while (n < chars.length && used + bytes(chars[n]) <= room) used += bytes(chars[n++]);
  let head = chars.slice(0, n).join('');
  // A word boundary when it costs only a short word; a long token (a model name) is better kept in part.
  const space = head.lastIndexOf(' ');
  if (space > 0 && head.length - space <= WORD_CUT_MAX) head = head.slice(0, space);
  return head.replace(/[\s,;:(\-+]+$/, '') + ELLIPSIS;
}

/** A Decimal String (DS) of at most 16 characters. */
export function formatDS(value: number): string {
  if (!Number.isFinite(value)) throw new DicomValueError(`DS value must be finite (got ${value})`);
  if (Object.is(value, -0)) value = 0;
  let s = String(value);
  for (let p = 15; s.length > 16 && p > 0; p--) s = value.toPrecision(p).replace(/(\.\d*?)0+(e|$)/, '$1$2').replace(/\.(e|$)/, '$1');
  if (s.length > 16) throw new DicomValueError(`DS value ${value} does not fit 16 characters`);
  return s;
}

/** An Integer String (IS): a 32-bit signed integer. */
export function formatIS(value: number): string {
  if (!Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) throw new DicomValueError(`IS value must be a 32-bit integer (got ${value})`);
  return String(value);
}

/** DICOM DA and TM of a date (local time). */
export function dicomDateTime(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return {
    date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`,
    time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  };
}

/** A naturalized value's single values as the strings that will be written (PN objects as their groups). */
function stringValues(vr: StringVR, value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return values
    .filter((v) => v !== undefined && v !== null)
    .map((v) => {
      if (vr === 'PN' && typeof v === 'object') {
        const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
        return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
      }
      return typeof v === 'number' ? String(v) : (v as string);
    });
}

/**
 * Every string-valued attribute of a naturalized dataset (sequences included) checked against its VR from the
 * data dictionary; a DicomValueError lists every invalid one. Binary, numeric-binary and private attributes are
 * not strings and are left to the encoder.
 */
export function assertDatasetValues(ds: Record<string, any>, where = 'dataset'): void {
  const problems: string[] = [];
  walk(ds, where, problems);
  if (problems.length) throw new DicomValueError(`${where} would be invalid DICOM: ${problems.join('; ')}`);
}

function walk(ds: Record<string, any>, where: string, problems: string[]): void {
  for (const [k, v] of Object.entries(ds)) {
    if (k === '_vrMap' || k === '_meta' || v === undefined || v === null) continue;
    const entry = DicomMetaDictionary.nameMap[k];
    const vr: string | undefined = ds._vrMap?.[k] ?? entry?.vr;
    if (vr === 'SQ') {
      (Array.isArray(v) ? v : [v]).forEach((item: Record<string, any>, i: number) => walk(item, `${where}.${k}[${i}]`, problems));
      continue;
    }
    const problem = vr ? valueProblem(vr, v) : undefined;
    if (problem) problems.push(`${where === 'dataset' ? '' : where + '.'}${k} (${vr}) ${problem}`);
  }
}

/** Why a naturalized attribute value (one value or several) is not valid for `vr`; undefined when it is. */
export function valueProblem(vr: string, value: unknown): string | undefined {
  if (!(vr in VR_MAX_LENGTH)) return undefined;
  for (const s of stringValues(vr as StringVR, value)) {
    const problem = vrProblem(vr as StringVR, s);
    if (problem) return problem;
  }
  return undefined;
}

/** The dictionary VR of a keyword (undefined for unknown keywords). */
export function vrOf(keyword: string): string | undefined {
  return DicomMetaDictionary.nameMap[keyword]?.vr;
}
