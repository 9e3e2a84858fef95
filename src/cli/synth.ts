import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('synth')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens synth is not implemented yet');
    });
}
