/**
 * Loads the configuration: defaults < config file (JSON) < environment. An environment variable
 * LENS__SECTION__KEY=value sets config.section.key (keys matched case-insensitively, underscores inside a key
 * ignored; values parsed as JSON when they parse). Every key at every depth must be one the schema knows: a
 * misspelt key (file or LENS__ variable) is refused with its name and the key probably meant, never dropped.
 * Path keys (schema.ts pathString) are resolved against the config file's folder. Secrets are never printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configSchema, PATH_SCHEMAS, type LensConfig } from './schema';
import { LensError } from '../errors';
import { configureDicomLimits } from '../dicom/limits';

export class ConfigError extends LensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'config-invalid', false, options);
  }
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Where relative paths point when there is no config file (default: the working directory). */
  cwd?: string;
}

export function loadConfig(opts: LoadOptions = {}): LensConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.LENS_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (e) {
      // V8's message quotes the text around the error, which may be a password: say only where it is.
      const at = /position (\d+)/.exec((e as Error).message);
      const lines = at ? text.slice(0, Number(at[1])).split('\n') : undefined;
      throw new ConfigError(`config file ${file} is not valid JSON${lines ? ` (line ${lines.length}, column ${lines[lines.length - 1].length + 1})` : ''}`);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${file} must hold a JSON object`);
  }
  const envPaths = applyEnv(raw, env);
  // Zod drops keys it does not know: a misspelt key would silently leave its default in force.
  const unknown = unknownKeys(raw, configSchema);
  if (unknown.length) {
    const lines = unknown.map((u) => `  ${describeUnknown(u, envPaths)}`);
    throw new ConfigError(`unknown configuration key${unknown.length > 1 ? 's' : ''}${file ? ` (${file} or LENS__ variables)` : ''}:\n${lines.join('\n')}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      const env = envPaths.get(key);
      return `  ${key || '(root)'}${env ? ` (${env})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration${file ? ` (${file})` : ''}:\n${lines.join('\n')}`);
  }
  const base = file ? path.dirname(path.resolve(file)) : path.resolve(opts.cwd ?? process.cwd());
  resolvePaths(parsed.data, configSchema, base);
  // Every reader of DICOM in this process (folder or PACS) applies the same limits: set where the config is read.
  configureDicomLimits(parsed.data.dicom);
  return parsed.data;
}

/** Writes each LENS__ variable into `raw`; returns dotted key path -> variable name, for messages. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const set = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('LENS__') || value === undefined) continue;
    const parts = name.slice(6).split('__').filter(Boolean);
    if (!parts.length) continue;
    let node: Record<string, unknown> = raw;
    const keys: string[] = [];
    for (let d = 0; d < parts.length; d++) {
      const key = matchKey(node, parts[d]);
      keys.push(key);
      // A secret is a string even when it looks like a number or `true`.
      if (d === parts.length - 1) node[key] = SECRET_KEY.test(key) ? value : parseValue(value);
      else {
        const next = node[key];
        node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[key] = {})) as Record<string, unknown>;
      }
    }
    set.set(keys.join('.'), name);
  }
  return set;
}

/** Keys whose values are secrets: never parsed, never shown. */
const SECRET_KEY = /password|token|secret/i;

function normalise(k: string): string {
  return k.toLowerCase().replace(/[_-]/g, '');
}

/** Every key path of the schema, and normalised key -> schema key (so LENS__PACS__DICOMWEBURL finds dicomwebUrl). */
let known: { paths: string[][]; keys: Map<string, string> } | undefined;
function knownKeys(): NonNullable<typeof known> {
  if (!known) {
    const paths = collectPaths(configSchema);
    known = { paths, keys: new Map(paths.map((p) => [normalise(p[p.length - 1]), p[p.length - 1]])) };
  }
  return known;
}

function matchKey(node: Record<string, unknown>, envKey: string): string {
  const n = normalise(envKey);
  return Object.keys(node).find((k) => normalise(k) === n) ?? knownKeys().keys.get(n) ?? envKey;
}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

type Def = Record<string, unknown> & { typeName?: string };
type AnySchema = { _def?: Def; shape?: unknown };

/** Zod wrappers (default, optional, nullable, effects, pipeline, lazy, brand) around the schema that says what a value holds. */
function unwrap(schema: unknown): AnySchema | undefined {
  let s = schema as AnySchema | undefined;
  for (let guard = 0; s?._def && guard < 32; guard++) {
    const d = s._def;
    const inner =
      d.innerType ?? d.schema ?? (d.typeName === 'ZodBranded' ? d.type : undefined) ?? (d.typeName === 'ZodPipeline' ? d.in : undefined) ??
      (d.typeName === 'ZodLazy' && typeof d.getter === 'function' ? (d.getter as () => unknown)() : undefined);
    if (!inner) break;
    s = inner as AnySchema;
  }
  return s;
}

function shapeOf(s: AnySchema | undefined): Record<string, unknown> | undefined {
  return s && typeof s.shape === 'object' && s.shape ? (s.shape as Record<string, unknown>) : undefined;
}

/** The object shapes a value may take under `schema` (one object, a union's variants, an intersection's halves). */
function shapesOf(s: AnySchema | undefined): Record<string, unknown>[] {
  const own = shapeOf(s);
  if (own) return [own];
  const d = s?._def;
  if (Array.isArray(d?.options)) return (d.options as unknown[]).flatMap((o) => shapesOf(unwrap(o)));
  if (d?.typeName === 'ZodIntersection') {
    const both = [...shapesOf(unwrap(d.left)), ...shapesOf(unwrap(d.right))];
    return both.length ? [Object.assign({}, ...both)] : [];
  }
  return [];
}

/** The schema of each element (array) or value (record) of a container, if `s` is one. */
function elementSchema(s: AnySchema | undefined): unknown {
  const d = s?._def;
  if (d?.typeName === 'ZodArray') return d.type;
  if (d?.typeName === 'ZodRecord' || d?.typeName === 'ZodMap') return d.valueType;
  return undefined;
}

interface UnknownKey {
  path: string[];
  /** The key meant, as a full path, when one is close enough. */
  meant?: string[];
}

/** The keys in `value` that `schema` does not have, at any depth (objects, unions of objects, arrays, records). */
function unknownKeys(value: unknown, schema: unknown, at: string[] = []): UnknownKey[] {
  if (!value || typeof value !== 'object') return [];
  const s = unwrap(schema);
  const element = elementSchema(s);
  if (element) return Object.entries(value).flatMap(([k, v]) => unknownKeys(v, element, [...at, k]));
  if (Array.isArray(value)) return [];
  const shapes = shapesOf(s);
  if (!shapes.length) return []; // a free-form value: any key
  // A union variant is chosen by its discriminator when there is one, else any variant's keys are accepted.
  const discriminator = s?._def?.discriminator as string | undefined;
  const chosen = discriminator
    ? shapes.filter((sh) => (unwrap(sh[discriminator])?._def as { value?: unknown } | undefined)?.value === (value as Record<string, unknown>)[discriminator])
    : shapes;
  const known = chosen.length ? chosen : shapes;
  return Object.entries(value).flatMap(([k, v]) => {
    const shape = known.find((sh) => Object.hasOwn(sh, k));
    if (shape) return unknownKeys(v, shape[k], [...at, k]);
    const near = closest(k, known.flatMap((sh) => Object.keys(sh)));
    return [{ path: [...at, k], meant: near ? [...at, near] : elsewhere(k) }];
  });
}

/** The key at this level that `key` most probably misspells: same letters ignoring case and `_`, or one or two edits away. */
function closest(key: string, candidates: string[]): string | undefined {
  const n = normalise(key);
  const exact = candidates.find((c) => normalise(c) === n);
  if (exact) return exact;
  const limit = n.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(n, normalise(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** A key written in the wrong section: the one place it exists (when it exists in exactly one). */
function elsewhere(key: string): string[] | undefined {
  const hits = knownKeys().paths.filter((p) => normalise(p[p.length - 1]) === normalise(key));
  return hits.length === 1 ? hits[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours (`prot`/`port`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.length][b.length];
}

const envName = (p: string[]) => `LENS__${p.map((k) => k.toUpperCase()).join('__')}`;

function describeUnknown(u: UnknownKey, envPaths: Map<string, string>): string {
  const dotted = u.path.join('.');
  for (const [p, name] of envPaths) {
    // The variable names the unknown key (or a key below it).
    if (p === dotted || p.startsWith(`${dotted}.`)) {
      const meant = u.meant && [...u.meant, ...p.split('.').slice(u.path.length)];
      return `${name}: ${dotted} is not a configuration key${meant ? `; did you mean ${envName(meant)} (${meant.join('.')})?` : ''}`;
    }
    // The variable's JSON value holds it.
    if (dotted.startsWith(`${p}.`)) return `${dotted} (in the value of ${name})${u.meant ? `: did you mean ${u.meant.join('.')}?` : ''}`;
  }
  return `${dotted}${u.meant ? `: did you mean ${u.meant.join('.')}?` : ''}`;
}

function collectPaths(schema: unknown, at: string[] = [], out: string[][] = []): string[][] {
  const s = unwrap(schema);
  const element = elementSchema(s);
  if (element) return collectPaths(element, at, out);
  for (const shape of shapesOf(s))
    for (const [k, v] of Object.entries(shape)) {
      out.push([...at, k]);
      collectPaths(v, [...at, k], out);
    }
  return out;
}

/** A value that names something other than a file: a URL (postgres://...) or SQLite's `:memory:`. */
const NOT_A_PATH = /^([a-z][a-z0-9+.-]*:|:)/i;

/** Resolves, in place, every relative path value (pathString keys) against `base`. */
function resolvePaths(value: unknown, schema: unknown, base: string): unknown {
  const s = unwrap(schema);
  if (typeof value === 'string')
    return PATH_SCHEMAS.has(s as never) && !NOT_A_PATH.test(value) ? path.resolve(base, value) : value;
  if (!value || typeof value !== 'object') return value;
  const element = elementSchema(s);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    const sub = element ?? shapesOf(s).find((sh) => Object.hasOwn(sh, k))?.[k];
    if (sub) (value as Record<string, unknown>)[k] = resolvePaths(v, sub, base);
  }
  return value;
}

/** The configuration with secrets masked, for `lens doctor` and the API. */
export function redactConfig(c: LensConfig): unknown {
  return JSON.parse(JSON.stringify(c), (k, v) =>
    typeof v !== 'string' ? v : SECRET_KEY.test(k) ? '***' : v.replace(URL_PASSWORD, '$1***@'));
}

/** The password in a URL's user info (jobs.database = postgres://user:password@host/db). */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i;
