/**
 * Loads the configuration: defaults < config file (JSON) < environment. An environment variable
 * LENS__SECTION__KEY=value sets config.section.key (keys matched case-insensitively; values parsed as JSON when
 * they parse). Errors name the wrong key; secrets are never printed.
 */
import fs from 'node:fs';
import { configSchema, type LensConfig } from './schema';

export class ConfigError extends Error {}

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
      throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  applyEnv(raw, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration${file ? ` (${file})` : ''}:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('LENS__') || value === undefined) continue;
    const path = name.slice(6).split('__').filter(Boolean);
    let node: Record<string, unknown> = raw;
    for (let d = 0; d < path.length; d++) {
      const key = matchKey(node, path[d]);
      if (d === path.length - 1) node[key] = parseValue(value);
      else node = (node[key] ??= {}) as Record<string, unknown>;
    }
  }
}

const KNOWN_KEYS = collectKeys(configSchema);

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

/** Lower-cased key -> schema key, for every key at any depth, so LENS__PACS__DICOMWEBURL finds dicomwebUrl. */
function collectKeys(schema: unknown, out = new Map<string, string>()): Map<string, string> {
  let s = schema as { _def?: Record<string, unknown>; shape?: Record<string, unknown> };
  while (s?._def && (s._def.innerType || s._def.schema)) s = (s._def.innerType ?? s._def.schema) as typeof s;
  const shape = typeof (s as { shape?: unknown })?.shape === 'object' ? (s as { shape: Record<string, unknown> }).shape : undefined;
  if (shape) for (const [k, v] of Object.entries(shape)) { out.set(k.toLowerCase(), k); collectKeys(v, out); }
  const options = s?._def?.options as unknown[] | undefined;
  if (Array.isArray(options)) options.forEach((o) => collectKeys(o, out));
  return out;
}

/** The configuration with secrets masked, for `lens doctor` and the API. */
export function redactConfig(c: LensConfig): unknown {
  return JSON.parse(JSON.stringify(c), (k, v) => (/password|token|secret/i.test(k) && typeof v === 'string' ? '***' : v));
}
