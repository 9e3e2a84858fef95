import type { Command } from 'commander';
import { UserError } from './errors';

// The nightly Lesion Harvester (docs/contracts.md#the-lens-command) has no issue yet; the command is reserved so
// that the CLI keeps the shape documented there, and it says plainly that it does nothing.
export function register(program: Command): void {
  program
    .command('harvest')
    .description('(planned) mine the archive for unannotated lesions (Lesion Harvester); not available in this version')
    .action(() => {
      throw new UserError('lens harvest is not available in this version (planned: the nightly Lesion Harvester)');
    });
}
