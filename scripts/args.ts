/**
 * Command-line options of the scripts in scripts/ and bench/: node:util's parseArgs in strict mode (an unknown option, a
 * missing value or a stray positional is refused), with its messages made short and numbers checked, so that a
 * typo fails at once instead of after minutes of detection with a default silently in its place.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Option names without the dashes: `values` take one value (last wins), `flags` none, `repeated` one per use. */
export interface OptionNames<V extends string, F extends string, R extends string> {
  values?: readonly V[];
  flags?: readonly F[];
  repeated?: readonly R[];
}

export type OptionValues<V extends string, F extends string, R extends string> = Partial<Record<V, string> & Record<F, boolean> & Record<R, string[]>>;

/** The options given in `argv`; an absent option is undefined. */
export function parseOptions<V extends string = never, F extends string = never, R extends string = never>(
  argv: string[],
  names: OptionNames<V, F, R>,
): OptionValues<V, F, R> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const n of names.values ?? []) options[n] = { type: 'string' };
  for (const n of names.flags ?? []) options[n] = { type: 'boolean' };
  for (const n of names.repeated ?? []) options[n] = { type: 'string', multiple: true };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as OptionValues<V, F, R>;
  } catch (e) {
    const err = e as Error & { code?: string };
    const known = Object.entries(options)
      .map(([k, o]) => (o.type === 'string' ? `--${k} V` : `--${k}`))
      .join(' ');
    // Node's own sentence up to its first full stop: the rest is advice about positionals, which no script takes.
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
      throw new Error(`${err.message.split('. ')[0]}; options: ${known}`);
    throw err;
  }
}

/** A finite number given as `--name value`, or `fallback` when the option is absent. */
export function numberOption(value: string | undefined, name: string, fallback: number): number;
export function numberOption(value: string | undefined, name: string): number | undefined;
export function numberOption(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${value}"`);
  return n;
}

/** A non-negative integer (a count, a seed, a thread count) given as `--name value`, or `fallback`. */
export function countOption(value: string | undefined, name: string, fallback: number): number;
export function countOption(value: string | undefined, name: string): number | undefined;
export function countOption(value: string | undefined, name: string, fallback?: number): number | undefined {
  const n = numberOption(value, name);
  if (n === undefined) return fallback;
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

/** A comma-separated list given as `--name a,b,c` (empty items dropped), or [] when absent. */
export function listOption(value: string | undefined): string[] {
  return (value ?? '').split(',').filter(Boolean);
}

/** The options naming a set of candidate studies: synthetic phantoms and real backgrounds with inserted lesions. */
export const STUDY_SET_OPTIONS = ['model', 'phantom-seed', 'phantoms', 'phantom-size', 'backgrounds', 'insert-seed', 'inserted'] as const;

export interface StudySetArgs {
  model: string;
  phantomSeed: number;
  phantoms: number;
  phantomSize: number;
  backgrounds: string[];
  insertSeed: number;
  inserted: number;
}

/** The study set of a command line; the seeds and phantom size default per script (training, validation). */
export function studySetOptions(
  o: Partial<Record<(typeof STUDY_SET_OPTIONS)[number], string>>,
  defaults: { phantomSeed: number; phantomSize: number; insertSeed: number },
): StudySetArgs {
  return {
    model: o.model ?? 'models/lens-ulb',
    phantomSeed: countOption(o['phantom-seed'], 'phantom-seed', defaults.phantomSeed),
    phantoms: countOption(o.phantoms, 'phantoms', 0),
    phantomSize: countOption(o['phantom-size'], 'phantom-size', defaults.phantomSize),
    backgrounds: listOption(o.backgrounds),
    insertSeed: countOption(o['insert-seed'], 'insert-seed', defaults.insertSeed),
    inserted: countOption(o.inserted, 'inserted', 0),
  };
}
