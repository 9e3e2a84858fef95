import type { Command } from 'commander';
import { UserError } from './errors';

// The nightly Lesion Harvester (design.md §1) has no issue yet; the command is reserved so that the CLI's shape
// matches design.md §2, and it says plainly that it does nothing.
export function register(program: Command): void {
  program
    .command('harvest')
    .description('(planned) mine the archive for unannotated lesions (Lesion Harvester); not available in this version')
    .action(() => {
      throw new UserError('lens harvest is not available in this version (planned: the nightly Lesion Harvester)');
    });
}
