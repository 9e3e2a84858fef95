/**
 * The detector on real CT (issue 10): findings per study on every real study in ../shared/data/ct, the annotated
 * lesions' rank and score, and a "held-out style" FROC: synthetic lesions inserted (src/synth/insert-lesions.ts)
 * into the two validation-only studies lung-dx-a0001 and lidc-idri-0314, with their real lesions counted too.
 *
 *   node -r tsx/cjs scripts/evaluate-real-ct.ts [--model models/lens-ulb] [--fpr DIR|none] [--inserted 4]
 *       [--seed 8101] [--data ../shared/data/ct] [--threads 0] [--out DIR] [--json FILE] [--skip-real]
 *       [--record NAME [--record-manifest models/lens-fpr/model.json]]
 *
 * lung-dx-a0001 and lidc-idri-0314 are validation only: nothing may be trained or tuned on them, so this script
 * reports and never writes a manifest. Study s of the inserted set of a background uses insertion seed
 * `seed * 1000 + s` (as `lens synth --insert-into DIR --seed N --studies k` writes them). The detector runs as
 * `lens detect --no-report` does (series selection from the default config, manifest operating point); the FROC
 * sweep uses every candidate (reported threshold 0). --fpr none runs the detector alone even when its manifest names a
 * classifier. --record NAME stores the figures (and this command) under evaluation[NAME] of the classifier's manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { loadDetector, type Detector } from '../src/detect/detector';
import type { Findings, Lesion, TruthStudy } from '../src/detect/findings';
import { loadSelectedVolume } from '../src/dicom/load-folder';
import { DEFAULT_EVAL, evaluate, iobb } from '../src/eval/froc';
import { formatEvalTable } from '../src/eval/format';
import { annotatedLesions } from '../src/eval/load-tree';
import { annotatedExtentMm, bestHit, formatMeasurement, measureLesions, summariseMeasurement } from '../src/eval/measurement';
import { writeTruth } from '../src/synth/write-raw';
import { countOption, parseOptions } from './args';
import { DEFAULT_DATA, realStudies, VALIDATION_STUDIES } from './real-ct-studies';
import { forEachStudy } from './study-set';

interface Args {
  model: string;
  fpr?: string;
  inserted: number;
  seed: number;
  data: string;
  threads: number;
  out?: string;
  json?: string;
  skipReal: boolean;
  record?: string;
  recordManifest: string;
}

function parseCommandLine(argv: string[]): Args {
  const o = parseOptions(argv, { values: ['model', 'fpr', 'inserted', 'seed', 'data', 'threads', 'out', 'json', 'record', 'record-manifest'], flags: ['skip-real'] });
  return {
    model: o.model ?? 'models/lens-ulb',
    fpr: o.fpr,
    inserted: countOption(o.inserted, 'inserted', 4),
    seed: countOption(o.seed, 'seed', 8101),
    data: o.data ?? DEFAULT_DATA,
    threads: countOption(o.threads, 'threads', 0),
    out: o.out,
    json: o.json,
    skipReal: o['skip-real'] ?? false,
    record: o.record,
    recordManifest: o['record-manifest'] ?? 'models/lens-fpr/model.json',
  };
}

interface RealRow {
  study: string;
  refused?: string;
  slices?: number;
  reported?: number;
  candidates?: number;
  lesions?: { type: string; rank: number | null; score: number | null; higherFalse: number | null; longAxisMm: number | null; annotatedExtentMm: number }[];
  seconds?: number;
}

/** Rank (1-based among all candidates), score and long axis of the best-ranked finding hitting the box. */
function locate(lesions: Lesion[], box: TruthStudy['lesions'][number]): { rank: number | null; score: number | null; longAxisMm: number | null } {
  const hit = bestHit(lesions, box);
  return hit ? { rank: hit.rank, score: hit.lesion.score, longAxisMm: hit.lesion.longAxisMm } : { rank: null, score: null, longAxisMm: null };
}

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  const cfg = loadConfig({});
  const detector = await loadDetector(args.model, { executionProviders: ['cpu'], threads: args.threads, batchSize: 4 }, { scoreThreshold: 0 }, args.fpr === 'none' ? null : args.fpr);
  const op = detector.lesionThreshold({ ...detector.options, scoreThreshold: undefined });
  const second = detector.secondStage();
  const describe = `model ${detector.manifest.name} ${detector.manifest.version}${second ? ` + proposal classifier ${second.manifest.name} ${second.manifest.version} (${second.manifest.scoring.combine})` : ''}; reported operating point: score >= ${op}`;
  console.log(describe);
  const rows: RealRow[] = [];
  if (!args.skipReal) {
    for (const dir of realStudies(args.data)) rows.push(await realRow(detector, dir, path.relative(args.data, dir), cfg.selection, op));
    console.log(formatRealRows(rows));
  }
  const froc = args.inserted > 0 ? await heldOutStyle(detector, args) : undefined;
  await detector.dispose();
  const result = { model: describe, operatingPoint: op, real: rows, heldOutStyle: froc, command: `node -r tsx/cjs scripts/evaluate-real-ct.ts ${process.argv.slice(2).join(' ')}`, date: new Date().toISOString() };
  if (args.json) fs.writeFileSync(args.json, JSON.stringify(result, null, 1) + '\n');
  if (args.record) {
    const raw = JSON.parse(fs.readFileSync(args.recordManifest, 'utf8'));
    raw.evaluation = { ...raw.evaluation, [args.record]: result };
    fs.writeFileSync(args.recordManifest, JSON.stringify(raw, null, 2) + '\n');
    console.log(`recorded under evaluation.${args.record} in ${args.recordManifest}`);
  }
}

async function realRow(detector: Detector, dir: string, study: string, selection: ReturnType<typeof loadConfig>['selection'], op: number): Promise<RealRow> {
  const t0 = performance.now();
  let loaded;
  try {
    loaded = await loadSelectedVolume(dir, selection);
  } catch (e) {
    return { study, refused: (e as Error).message.split('\n')[0] };
  }
  const { findings } = await detector.detect(loaded.volume);
  const reported = findings.lesions.filter((l) => l.score >= op);
  const lesions = annotatedLesions(dir, loaded.volume.studyInstanceUID).map((l) => {
    const at = locate(findings.lesions, l);
    return { type: String(l.type), ...at, higherFalse: at.rank === null ? null : at.rank - 1, annotatedExtentMm: Math.round(annotatedExtentMm(l) * 10) / 10 };
  });
  process.stderr.write(`${study}: ${reported.length} reported, ${findings.lesions.length} candidates\n`);
  return { study, slices: loaded.volume.dims[2], reported: reported.length, candidates: findings.lesions.length, lesions, seconds: Math.round((performance.now() - t0) / 100) / 10 };
}

function formatRealRows(rows: RealRow[]): string {
  const out = ['real CT: findings reported at the operating point (lens detect --no-report)', 'study                                   slices reported  annotated lesion: rank (false findings above), score, long axis / annotated extent'];
  for (const r of rows) {
    if (r.refused) {
      out.push(`${r.study.padEnd(40)} refused by series selection: ${r.refused}`);
      continue;
    }
    const ann = (r.lesions ?? []).map((l) => (l.rank === null ? `${l.type}: not found` : `${l.type}: rank ${l.rank} (${l.higherFalse} above), score ${l.score!.toFixed(3)}, ${l.longAxisMm!.toFixed(1)} / ${l.annotatedExtentMm} mm`));
    out.push(`${r.study.padEnd(40)} ${String(r.slices).padStart(6)} ${String(r.reported).padStart(8)}  ${ann.join('; ') || '-'}`);
  }
  return out.join('\n');
}

async function heldOutStyle(detector: Detector, args: Args) {
  const truths: TruthStudy[] = [];
  const findings: Findings[] = [];
  const set = { phantomSeed: 0, phantoms: 0, phantomSize: 0, backgrounds: VALIDATION_STUDIES.map((n) => path.join(args.data, n)), insertSeed: args.seed, inserted: args.inserted };
  await forEachStudy(set, async (name, volume, truth, origin) => {
    const { findings: f } = await detector.detect(volume);
    truths.push(truth);
    findings.push(f);
    if (args.out) {
      const d = path.join(args.out, name);
      writeTruth({ seed: origin.seed, truth }, d);
      fs.writeFileSync(path.join(d, 'findings.json'), JSON.stringify(f, null, 1));
    }
    const hit = truth.lesions.filter((l) => f.lesions.some((p) => iobb(p.bboxLPS, l.bboxLPS) >= DEFAULT_EVAL.iobbThreshold)).length;
    process.stderr.write(`${name}: ${truth.lesions.length} lesions (${truth.lesions.map((l) => l.type).join(', ')}), ${hit} hit by any of ${f.lesions.length} candidates\n`);
  });
  const result = evaluate(truths, findings);
  console.log(`held-out style: lesions inserted into ${VALIDATION_STUDIES.join(', ')} (insertion seeds ${args.seed}*1000+0..${args.inserted - 1}), real annotated lesions counted too`);
  console.log(formatEvalTable(result));
  const m = measureLesions(truths, findings);
  const measurement = summariseMeasurement(m.lesions, m.measured);
  console.log(formatMeasurement(measurement));
  return { volumes: result.volumes, lesions: result.lesions, sensitivityAtFp: result.sensitivityAtFp, averageSensitivity: result.averageSensitivity, perType: result.perType, measurement };
}

main().catch((e) => {
  process.stderr.write(`evaluate-real-ct: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
