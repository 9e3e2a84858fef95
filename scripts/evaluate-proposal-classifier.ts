/**
 * The detector with and without its second stage (proposal classifier, models/lens-fpr) on phantoms and on real CT
 * with inserted lesions, FROC as docs/contracts.md#evaluation-protocol; optionally sets the chaining rule's operating point.
 *
 *   node -r tsx/cjs scripts/evaluate-proposal-classifier.ts --fpr models/lens-fpr
 *       [--phantom-seed 7001 --phantoms 10 --phantom-size 512] [--backgrounds DIR,... --insert-seed 8301 --inserted 5]
 *       [--set-operating-point 2] [--record NAME]
 *
 * For each study the detector runs once (all candidates, second stage off); the classifier then scores the
 * candidates the chaining rule would give it, and three rankings are evaluated: the detector's score, the
 * geometric mean sqrt(detector x classifier) and the classifier's probability alone.
 * --set-operating-point F (validation data only: refused on test seeds 9001/9002 and on lung-dx-a0001 /
 * lidc-idri-0314) writes into the classifier's manifest the ranking with the best average sensitivity and, as
 * finalScoreThreshold, its score at F false positives per volume. --record NAME stores the figures under
 * evaluation[NAME] of that manifest. --set-detector-operating-point F (validation data only, as above) writes the
 * detector ranking's score at F false positives per volume into the detector's manifest (--model) as
 * output.lesionScoreThreshold, the operating point of the detector alone, chosen on phantoms and real anatomy together.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadDetector } from '../src/detect/detector';
import type { Findings, TruthStudy } from '../src/detect/findings';
import type { ProposalScoring } from '../src/detect/proposal-classifier';
import type { Volume } from '../src/dicom/volume';
import { evaluate, type EvalResult } from '../src/eval/froc';
import { formatEvalTable } from '../src/eval/format';
import { numberOption, parseOptions, STUDY_SET_OPTIONS, studySetOptions, type StudySetArgs } from './args';
import { isValidationStudy } from './real-ct-studies';
import { describeStudySet, forEachStudy } from './study-set';

const TEST_SEEDS = [9001, 9002];
const RANKINGS = ['detector', 'geometric-mean', 'classifier'] as const;
type Ranking = (typeof RANKINGS)[number];

interface Args extends StudySetArgs {
  fpr: string;
  operatingPointFp?: number;
  detectorOperatingPointFp?: number;
  record?: string;
}

function parseCommandLine(argv: string[]): Args {
  const o = parseOptions(argv, { values: [...STUDY_SET_OPTIONS, 'fpr', 'set-operating-point', 'set-detector-operating-point', 'record'] });
  const a: Args = {
    ...studySetOptions(o, { phantomSeed: 7001, phantomSize: 512, insertSeed: 8301 }),
    fpr: o.fpr ?? 'models/lens-fpr',
    operatingPointFp: numberOption(o['set-operating-point'], 'set-operating-point'),
    detectorOperatingPointFp: numberOption(o['set-detector-operating-point'], 'set-detector-operating-point'),
    record: o.record,
  };
  if (a.operatingPointFp !== undefined || a.detectorOperatingPointFp !== undefined) {
    if (a.phantoms > 0 && TEST_SEEDS.includes(a.phantomSeed)) throw new Error(`--set-operating-point is chosen on validation data, not on test seed ${a.phantomSeed}`);
    for (const b of a.backgrounds) if (isValidationStudy(b)) throw new Error(`--set-operating-point is never chosen on ${b} (validation-only study, reported, not tuned on)`);
  }
  return a;
}

async function main(): Promise<void> {
  const a = parseCommandLine(process.argv.slice(2));
  const detector = await loadDetector(a.model, { executionProviders: ['cpu'], threads: 0, batchSize: 4 }, { scoreThreshold: 0, secondStage: false }, a.fpr);
  const c = detector.classifier!;
  const rule = c.manifest.scoring;
  const truths: TruthStudy[] = [];
  const byRanking: Record<Ranking, Findings[]> = { detector: [], 'geometric-mean': [], classifier: [] };
  const run = async (name: string, volume: Volume, truth: TruthStudy) => {
    const { findings } = await detector.detect(volume);
    const top = findings.lesions.filter((l) => l.score >= rule.candidateScoreThreshold).slice(0, rule.maxCandidates);
    const p = await c.probabilities(volume, top);
    truths.push(truth);
    byRanking.detector.push({ ...findings, lesions: top });
    byRanking['geometric-mean'].push({ ...findings, lesions: top.map((l, i) => ({ ...l, score: Math.sqrt(l.score * p[i]) })) });
    byRanking.classifier.push({ ...findings, lesions: top.map((l, i) => ({ ...l, score: p[i] })) });
    process.stderr.write(`${name}: ${truth.lesions.length} lesions, ${top.length} candidates\n`);
  };
  await forEachStudy(a, run);
  await detector.dispose();
  const set = describeStudySet(a);
  const results = {} as Record<Ranking, EvalResult>;
  for (const r of RANKINGS) {
    results[r] = evaluate(truths, byRanking[r]);
    console.log(`${set}; ranking: ${r}`);
    console.log(formatEvalTable(results[r]));
  }
  const file = path.resolve(a.fpr, 'model.json');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const summary = (r: EvalResult) => ({ averageSensitivity: round(r.averageSensitivity), sensitivityAtFp: r.sensitivityAtFp.map((x) => ({ fpPerVolume: x.fpPerVolume, sensitivity: round(x.sensitivity), threshold: x.threshold === null ? null : round(x.threshold) })) });
  if (a.operatingPointFp !== undefined) {
    const best = RANKINGS.filter((r) => r !== 'detector').reduce((x, y) => (results[y].averageSensitivity > results[x].averageSensitivity ? y : x)) as Exclude<Ranking, 'detector'>;
    const at = results[best].sensitivityAtFp.find((x) => x.fpPerVolume === a.operatingPointFp);
    if (!at || at.threshold === null) throw new Error(`no operating point at ${a.operatingPointFp} FPs/volume`);
    const scoring: ProposalScoring = { ...rule, combine: best, finalScoreThreshold: round(at.threshold) };
    raw.scoring = scoring;
    raw.operatingPoint = { fpPerVolume: a.operatingPointFp, validationSet: set, validationSensitivity: round(at.sensitivity), command: `node -r tsx/cjs scripts/evaluate-proposal-classifier.ts ${process.argv.slice(2).join(' ')}` };
    console.log(`set scoring ${JSON.stringify(scoring)} in ${file}`);
  }
  if (a.record) {
    raw.evaluation = { ...raw.evaluation, [a.record]: { set, studies: truths.length, lesions: results.detector.lesions, ...Object.fromEntries(RANKINGS.map((r) => [r, summary(results[r])])), command: `node -r tsx/cjs scripts/evaluate-proposal-classifier.ts ${process.argv.slice(2).join(' ')}` } };
  }
  if (a.operatingPointFp !== undefined || a.record) fs.writeFileSync(file, JSON.stringify(raw, null, 2) + '\n');
  if (a.detectorOperatingPointFp !== undefined) writeDetectorOperatingPoint(a, set, results.detector);
}

function writeDetectorOperatingPoint(a: Args, set: string, r: EvalResult): void {
  const at = r.sensitivityAtFp.find((x) => x.fpPerVolume === a.detectorOperatingPointFp);
  if (!at || at.threshold === null || at.threshold === undefined) throw new Error(`no operating point at ${a.detectorOperatingPointFp} FPs/volume (use one of 0.125..8)`);
  const file = path.resolve(a.model, 'model.json');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  raw.output.lesionScoreThreshold = round(at.threshold);
  raw.operatingPoint = {
    fpPerVolume: a.detectorOperatingPointFp,
    lesionScoreThreshold: round(at.threshold),
    validationSensitivity: round(at.sensitivity),
    validationSet: { set, studies: r.volumes, lesions: r.lesions },
    command: `node -r tsx/cjs scripts/evaluate-proposal-classifier.ts ${process.argv.slice(2).join(' ')}`,
  };
  fs.writeFileSync(file, JSON.stringify(raw, null, 2) + '\n');
  console.log(`set output.lesionScoreThreshold = ${round(at.threshold)} (${a.detectorOperatingPointFp} FPs/volume, ${set}) in ${file}`);
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

main().catch((e) => {
  process.stderr.write(`evaluate-proposal-classifier: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
