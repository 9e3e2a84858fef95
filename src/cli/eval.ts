import type { Command } from 'commander';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('eval')
    .description('(not yet implemented)')
    .action(() => {
      throw new UserError('lens eval is not implemented yet');
    });
}
