import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('serve')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens serve is not implemented yet');
    });
}
