/**
 * Real-anatomy regions for the detector's training on lesions inserted into real CT (docs/model.md, stage 5): runs a
 * detector on each real background and writes, into the truth.json of every raw study inserted into it (`lens synth
 * --insert-into ... --format raw`; the inserted volume keeps the background's geometry, so its LPS boxes apply):
 *   - `ignoreRegions`: the LENS rule, unannotated is not lesion-free: the background's most confident detections
 *     (the `--ignore-top` highest-scoring ones, and any scoring at least `--ignore-score`) may be real lesions nobody
 *     labelled, so the heatmap loss neither rewards nor penalises them (models/training/data.py);
 *   - `proposals`: the other detections scoring at least `--min-score` (at most `--top`), where training crops are
 *     centred more often (hard negatives: what the detector mistakes for lesions on real anatomy, e.g. vessels).
 * Each entry: { bboxLPS, score }, plus `mining` { model, version, ignoreTop, ignoreScore, minScore }.
 *
 *   node -r tsx/cjs scripts/detector-mining.ts --backgrounds DIR,DIR,... --data DIR,DIR,... [--model models/lens-ulb]
 *       [--ignore-top 3] [--ignore-score 0.5] [--min-score 0.15] [--top 150]
 *
 * lung-dx-a0001 and lidc-idri-0314 are validation only and refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { loadDetector } from '../src/detect/detector';
import { loadSelectedVolume } from '../src/dicom/load-folder';
import { countOption, listOption, numberOption, parseOptions } from './args';
import { isValidationStudy } from './real-ct-studies';

interface TruthJson {
  studies: { background?: { name?: string }; [k: string]: unknown }[];
  [k: string]: unknown;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['backgrounds', 'data', 'model', 'ignore-top', 'ignore-score', 'min-score', 'top'] });
  const backgrounds = listOption(o.backgrounds);
  const data = listOption(o.data);
  if (!backgrounds.length || !data.length) throw new Error('--backgrounds DIR,... and --data DIR,... are required');
  for (const b of backgrounds) if (isValidationStudy(b)) throw new Error(`${b} is validation only: never a training background`);
  const modelDir = o.model ?? 'models/lens-ulb';
  const ignoreTop = countOption(o['ignore-top'], 'ignore-top', 3);
  const ignoreScore = numberOption(o['ignore-score'], 'ignore-score', 0.5);
  const minScore = numberOption(o['min-score'], 'min-score', 0.15);
  const top = countOption(o.top, 'top', 150);
  const studies = data.flatMap((d) => fs.readdirSync(d).map((s) => path.join(d, s)).filter((s) => fs.existsSync(path.join(s, 'truth.json'))));
  const detector = await loadDetector(modelDir, { executionProviders: ['cpu'], threads: 0, batchSize: 4 }, { scoreThreshold: 0 });
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as { name: string; version: string };
  const cfg = loadConfig({});
  for (const bg of backgrounds) {
    const name = path.basename(path.resolve(bg));
    const { volume } = await loadSelectedVolume(bg, cfg.selection);
    const { findings } = await detector.detect(volume);
    const found = findings.lesions.filter((l) => l.score >= minScore).slice(0, top);
    // Sorted by score: the first ones are the most confident.
    const region = (l: (typeof found)[number]) => ({ bboxLPS: l.bboxLPS.map((v) => Math.round(v * 100) / 100), score: Math.round(l.score * 1e4) / 1e4 });
    const ignoreRegions = found.filter((l, i) => i < ignoreTop || l.score >= ignoreScore).map(region);
    const proposals = found.filter((l, i) => !(i < ignoreTop || l.score >= ignoreScore)).map(region);
    let n = 0;
    for (const s of studies) {
      const file = path.join(s, 'truth.json');
      const truth = JSON.parse(fs.readFileSync(file, 'utf8')) as TruthJson;
      const st = truth.studies[0];
      if (st?.background?.name !== name) continue;
      st.ignoreRegions = ignoreRegions;
      st.proposals = proposals;
      st.mining = { model: manifest.name, version: manifest.version, ignoreTop, ignoreScore, minScore, top };
      fs.writeFileSync(file, JSON.stringify(truth, null, 1) + '\n');
      n++;
    }
    process.stdout.write(`${name}: ${ignoreRegions.length} ignore regions (scores ${ignoreRegions.map((r) => r.score).join(', ')}), ${proposals.length} proposals, written into ${n} studies\n`);
  }
  await detector.dispose();
}

main().catch((e) => {
  process.stderr.write(`detector-mining: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
