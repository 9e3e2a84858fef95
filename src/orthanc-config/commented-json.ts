/**
 * Orthanc's configuration files as Orthanc reads them: JSON with `//` and `/* *\/` comments (Debian's
 * /etc/orthanc/orthanc.json is mostly comments). Read, and top-level keys changed or added in the text itself, so
 * that an administrator's file keeps its comments, order and layout apart from the values lens-pacs sets.
 */
import { LensError } from '../errors';

export class OrthancConfigError extends LensError {
  constructor(message: string) {
    super(message, 'user-input', false);
  }
}

/** The text with every comment replaced by spaces (newlines kept): offsets stay those of the original. */
export function blankComments(text: string): string {
  const out = text.split('');
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = stringEnd(text, i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') out[i++] = ' ';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) if (out[i] !== '\n') out[i] = ' ';
    } else {
      i++;
    }
  }
  return out.join('');
}

/** Offset just past the string literal that starts at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return text.length;
}

/** Parses an Orthanc configuration file; the error names the file. */
export function parseOrthancJson(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(blankComments(text));
  } catch (e) {
    throw new OrthancConfigError(`${file} is not an Orthanc configuration file Orthanc could read (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new OrthancConfigError(`${file} does not hold a JSON object`);
  return v as Record<string, unknown>;
}

interface Layout {
  /** Offset of the object's closing brace. */
  close: number;
  /** Key -> offsets of its value [start, end). */
  values: Map<string, [number, number]>;
}

/** Where each member's value of the object at `start` lies in the text (comments blanked in `s`). */
function layout(s: string, file: string, start?: number): Layout {
  let i = skipSpace(s, start ?? 0);
  if (s[i] !== '{') throw new OrthancConfigError(`${file} does not hold a JSON object`);
  i = skipSpace(s, i + 1);
  const values = new Map<string, [number, number]>();
  while (s[i] !== '}') {
    if (s[i] !== '"') throw new OrthancConfigError(`${file}: a key was expected at offset ${i}`);
    const keyEnd = stringEnd(s, i);
    const key = JSON.parse(s.slice(i, keyEnd)) as string;
    i = skipSpace(s, keyEnd);
    if (s[i] !== ':') throw new OrthancConfigError(`${file}: ':' was expected after "${key}"`);
    const valueStart = skipSpace(s, i + 1);
    const end = valueEnd(s, valueStart, file);
    values.set(key, [valueStart, end]);
    i = skipSpace(s, end);
    if (s[i] === ',') i = skipSpace(s, i + 1);
    else if (s[i] !== '}') throw new OrthancConfigError(`${file}: ',' or '}' was expected after the value of "${key}"`);
  }
  return { close: i, values };
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i])) i++;
  return i;
}

function valueEnd(s: string, i: number, file: string): number {
  if (s[i] === '"') return stringEnd(s, i);
  if (s[i] === '{' || s[i] === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      if (s[j] === '"') j = stringEnd(s, j) - 1;
      else if (s[j] === '{' || s[j] === '[') depth++;
      else if (s[j] === '}' || s[j] === ']') {
        if (--depth === 0) return j + 1;
      }
    }
    throw new OrthancConfigError(`${file}: unclosed ${s[i]} at offset ${i}`);
  }
  let j = i;
  while (j < s.length && !/[\s,}\]]/.test(s[j])) j++;
  return j;
}

/** JSON of a value placed at an indentation of `indent` spaces. */
function render(value: unknown, indent: number): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, '\n' + ' '.repeat(indent));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The text with top-level `key` set to `value`: its value replaced where the key is (comments around it kept), else
 * the key appended as the object's last member. An object that keeps every member it had is changed member by
 * member, so that comments inside it (Debian's DicomModalities examples) stay.
 */
export function setTopLevel(text: string, key: string, value: unknown, file = 'the configuration'): string {
  return setMember(text, blankComments(text), undefined, 2, key, value, file);
}

function setMember(text: string, s: string, objectStart: number | undefined, indent: number, key: string, value: unknown, file: string): string {
  const l = layout(s, file, objectStart);
  const at = l.values.get(key);
  if (at) {
    const old = JSON.parse(s.slice(at[0], at[1])) as unknown;
    if (isObject(old) && isObject(value) && Object.keys(old).every((k) => k in value)) {
      // Each change finds its place again in the text as changed so far; the object still starts at at[0].
      let t = text;
      for (const k of Object.keys(value)) {
        if (JSON.stringify(old[k]) === JSON.stringify(value[k])) continue;
        t = setMember(t, blankComments(t), at[0], indent + 2, k, value[k], file);
      }
      return t;
    }
    return text.slice(0, at[0]) + render(value, indent) + text.slice(at[1]);
  }
  // After the last value (not after a trailing comment, which would swallow the comma).
  const last = [...l.values.values()].reduce((m, [, end]) => Math.max(m, end), -1);
  const member = `${' '.repeat(indent)}${JSON.stringify(key)}: ${render(value, indent)}`;
  if (last < 0) return `${text.slice(0, l.close).trimEnd()}\n${member}\n${' '.repeat(indent - 2)}${text.slice(l.close)}`;
  return `${text.slice(0, last)},\n${member}${text.slice(last)}`;
}
