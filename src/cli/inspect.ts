import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens inspect is not implemented yet');
    });
}
