/**
 * The `lens` command. Each subcommand lives in src/cli/<name>.ts and registers itself on the program.
 */
import { Command } from 'commander';
import { UserError } from './cli/errors';
import { ConfigError } from './config/load';

const SUBCOMMANDS = ['inspect', 'synth', 'detect', 'eval', 'doctor', 'serve', 'demo', 'harvest'] as const;

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
    if (e instanceof UserError || e instanceof ConfigError) {
      process.stderr.write(`lens: ${e.message}\n`);
      return e instanceof UserError ? e.exitCode : 2;
    }
    process.stderr.write(`lens: unexpected error: ${(e as Error)?.message ?? e}\n`);
    if (process.env.LENS_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 1;
  }
}
