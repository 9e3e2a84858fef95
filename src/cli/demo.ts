import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('demo')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens demo is not implemented yet');
    });
}
