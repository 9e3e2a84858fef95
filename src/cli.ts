/**
 * The `lens` command. Each subcommand lives in src/cli/<name>.ts and registers itself on the program.
 */
import { Command } from 'commander';
import { UserError } from './cli/errors';
import { classifyError } from './errors';

const SUBCOMMANDS = ['inspect', 'synth', 'detect', 'eval', 'doctor', 'serve', 'demo', 'harvest', 'model', 'orthanc-setup'] as const;

export function buildProgram(): Command {
  const program = new Command('lens')
    .description('lens-pacs: universal lesion detection in CT, written back into your PACS as DICOM SR and SEG')
    .option('-c, --config <file>', 'configuration file (JSON); also LENS_CONFIG')
    .showHelpAfterError();
  for (const name of SUBCOMMANDS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(`./cli/${name}`) as { register: (p: Command) => void };
    mod.register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    return reportFailure(e);
  }
}

/**
 * Every command fails the same way: a failure about the user's data, configuration or PACS is one clear line
 * (exit 2, or the UserError's own status); a bug prints its stack trace (exit 1) so that it can be reported.
 */
export function reportFailure(e: unknown): number {
  const c = classifyError(e);
  if (!c.bug) {
    process.stderr.write(`lens: ${c.message}\n`);
    return e instanceof UserError ? e.exitCode : 2;
  }
  process.stderr.write(`lens: unexpected error (a bug in lens): ${(e as Error)?.stack ?? c.message}\n`);
  return 1;
}
