import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens doctor is not implemented yet');
    });
}
