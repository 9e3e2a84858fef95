import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('harvest')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens harvest is not implemented yet');
    });
}
