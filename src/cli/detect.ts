import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('detect')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens detect is not implemented yet');
    });
}
