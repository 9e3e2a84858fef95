/**
 * Loads the configuration: defaults < config file (JSON) < environment. An environment variable
 * LENS__SECTION__KEY=value sets config.section.key (keys matched case-insensitively; values parsed as JSON when
 * they parse). Errors name the wrong key; secrets are never printed.
 */
import fs from 'node:fs';
import { configSchema, type LensConfig } from './schema';
import { LensError } from '../errors';
import { configureDicomLimits } from '../dicom/limits';

export class ConfigError extends LensError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'config-invalid', false, options);
  }
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): LensConfig {
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
  }
  applyEnv(raw, env);
  // The schema drops keys it does not know: a misspelt key would silently leave its default in force.
  const unknown = unknownKeys(raw, configSchema);
  if (unknown.length)
    throw new ConfigError(`unknown configuration key${unknown.length > 1 ? 's' : ''}${file ? ` (${file} or LENS__ variables)` : ''}: ${unknown.join(', ')}`);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration${file ? ` (${file})` : ''}:\n${lines.join('\n')}`);
  }
  // Every reader of DICOM in this process (folder or PACS) applies the same limits: set where the config is read.
  configureDicomLimits(parsed.data.dicom);
  return parsed.data;
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('LENS__') || value === undefined) continue;
    const path = name.slice(6).split('__').filter(Boolean);
    let node: Record<string, unknown> = raw;
    for (let d = 0; d < path.length; d++) {
      const key = matchKey(node, path[d]);
      // A secret is a string even when it looks like a number or `true`.
      if (d === path.length - 1) node[key] = SECRET_KEY.test(key) ? value : parseValue(value);
      else node = (node[key] ??= {}) as Record<string, unknown>;
    }
  }
}

const KNOWN_KEYS = collectKeys(configSchema);
/** Keys whose values are secrets: never parsed, never shown. */
const SECRET_KEY = /password|token|secret/i;

function matchKey(node: Record<string, unknown>, envKey: string): string {
  const lower = envKey.toLowerCase().replace(/_/g, '');
  return Object.keys(node).find((k) => k.toLowerCase() === lower) ?? KNOWN_KEYS.get(lower) ?? envKey;
}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Zod wrappers (default, optional, effects) around the schema that says what a value holds. */
function unwrap(schema: unknown): { _def?: Record<string, unknown>; shape?: unknown } | undefined {
  let s = schema as { _def?: Record<string, unknown>; shape?: unknown } | undefined;
  while (s?._def && (s._def.innerType || s._def.schema)) s = (s._def.innerType ?? s._def.schema) as typeof s;
  return s;
}

/** Dotted paths of the keys in `value` that `schema` (objects, unions of objects) does not have. */
function unknownKeys(value: unknown, schema: unknown, at: string[] = []): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  const s = unwrap(schema);
  const options = s?._def?.options as unknown[] | undefined;
  const shapes = (Array.isArray(options) ? options.map(unwrap) : [s])
    .map((o) => (typeof o?.shape === 'object' ? (o.shape as Record<string, unknown>) : undefined))
    .filter((x): x is Record<string, unknown> => !!x);
  if (!shapes.length) return []; // a record or free-form value: any key
  // A union variant is chosen by its discriminator when there is one, else any variant's keys are accepted.
  const discriminator = s?._def?.discriminator as string | undefined;
  const chosen = discriminator ? shapes.filter((sh) => (sh[discriminator] as { _def?: { value?: unknown } })?._def?.value === (value as Record<string, unknown>)[discriminator]) : shapes;
  const known = chosen.length ? chosen : shapes;
  return Object.entries(value).flatMap(([k, v]) => {
    const shape = known.find((sh) => k in sh);
    return shape ? unknownKeys(v, shape[k], [...at, k]) : [[...at, k].join('.')];
  });
}

/** Lower-cased key -> schema key, for every key at any depth, so LENS__PACS__DICOMWEBURL finds dicomwebUrl. */
function collectKeys(schema: unknown, out = new Map<string, string>()): Map<string, string> {
  const s = unwrap(schema);
  const shape = typeof (s as { shape?: unknown })?.shape === 'object' ? (s as { shape: Record<string, unknown> }).shape : undefined;
  if (shape) for (const [k, v] of Object.entries(shape)) { out.set(k.toLowerCase(), k); collectKeys(v, out); }
  const options = s?._def?.options as unknown[] | undefined;
  if (Array.isArray(options)) options.forEach((o) => collectKeys(o, out));
  return out;
}

/** The configuration with secrets masked, for `lens doctor` and the API. */
export function redactConfig(c: LensConfig): unknown {
  return JSON.parse(JSON.stringify(c), (k, v) => (SECRET_KEY.test(k) && typeof v === 'string' ? '***' : v));
}
