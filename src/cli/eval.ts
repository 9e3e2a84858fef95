import type { Command } from 'commander';
import { evaluate, FP_RATES } from '../eval/froc';
import { formatEvalTable } from '../eval/format';
import { EvalInputError, loadFindingsTree, loadTruthTree } from '../eval/load-tree';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('eval')
    .description(`FROC evaluation (docs/contracts.md#evaluation-protocol): sensitivity at ${FP_RATES.join(', ')} FPs per volume, IoBB >= 0.3`)
    .requiredOption('--truth <dir>', 'folder tree with truth.json files')
    .requiredOption('--pred <dir>', 'folder tree with findings.json files (matched to truth by studyInstanceUID)')
    .option('--iobb <x>', 'IoBB threshold for a hit', '0.3')
    .option('--json', 'print the full result as JSON')
    .action((opts: { truth: string; pred: string; iobb: string; json?: boolean }) => {
      const iobbThreshold = Number(opts.iobb);
      if (!(iobbThreshold > 0 && iobbThreshold <= 1)) throw new UserError(`--iobb must be in (0, 1], got ${opts.iobb}`);
      let result;
      try {
        result = evaluate(loadTruthTree(opts.truth), loadFindingsTree(opts.pred), { iobbThreshold });
      } catch (e) {
        if (e instanceof EvalInputError) throw new UserError(e.message);
        throw e;
      }
      process.stdout.write((opts.json ? JSON.stringify(result, null, 2) : formatEvalTable(result)) + '\n');
    });
}
