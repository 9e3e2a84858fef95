/**
 * A model folder that chains the detector and the proposal classifier: the detector's manifest with
 * `proposalClassifier` naming the classifier, the detector's ONNX linked, for `lens detect --model DIR` or
 * LENS__MODEL__DIR=DIR (e.g. the benchmark with both stages) while the classifier is not the shipped default.
 *
 *   node -r tsx/cjs scripts/chain-models.ts --out DIR [--detector models/lens-ulb] [--classifier models/lens-fpr]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseOptions } from './args';

export function writeChainedModel(detectorDir: string, classifierDir: string, out: string): void {
  const m = JSON.parse(fs.readFileSync(path.join(detectorDir, 'model.json'), 'utf8'));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify({ ...m, proposalClassifier: path.resolve(classifierDir) }, null, 2) + '\n');
  const link = path.join(out, m.file);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.resolve(detectorDir, m.file), link);
}

if (require.main === module) {
  const o = parseOptions(process.argv.slice(2), { values: ['out', 'detector', 'classifier'] });
  const out = o.out;
  if (out === undefined) throw new Error('--out is required');
  writeChainedModel(o.detector ?? 'models/lens-ulb', o.classifier ?? 'models/lens-fpr', out);
  process.stdout.write(`wrote ${out}/model.json (detector + proposal classifier)\n`);
}
