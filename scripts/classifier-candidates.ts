/**
 * Training data of the proposal classifier (models/training/train_classifier.py): the detector's candidates at a
 * high-sensitivity setting on phantoms (exact truth) and on real CT with inserted lesions, each cut into the crops
 * and features of src/detect/proposal-crops.ts and labelled.
 *
 *   node -r tsx/cjs scripts/classifier-candidates.ts --out models/training/data/fpr/train
 *       [--phantom-seed 6001 --phantoms 40 --phantom-size 256]
 *       [--backgrounds DIR,DIR,... --insert-seed 8201 --inserted 6] [--model models/lens-ulb]
 *       [--min-score 0.15] [--top 150] [--ignore-top 3] [--ignore-score 0.5]
 *
 * Labels: 1 a candidate hitting a phantom or inserted lesion (IoBB >= 0.3, the evaluation's rule); 0 a candidate
 * elsewhere; -1 (ignored in training) a candidate whose centre lies inside a lesion's box without hitting it (a
 * partial box on a lesion), and, on real CT, the LENS rule: unannotated is not lesion-free, so the most confident
 * real-anatomy candidates of each study (the `--ignore-top` highest-scoring ones, and any scoring at least
 * `--ignore-score`) are ignore regions rather than negatives: they may be real lesions nobody labelled.
 * lung-dx-a0001 and lidc-idri-0314 are validation only and refused as backgrounds.
 *
 * Output (appended): crops.u8 (crop values x 255, cropLength bytes per candidate), feats.f32 (FEATURE_COUNT per
 * candidate), meta.jsonl (one JSON line per candidate: study, kind, label, why, score, box).
 */
import { loadDetector, type Detector } from '../src/detect/detector';
import { boxCentre } from '../src/detect/box3d';
import type { BoxLPS, TruthStudy } from '../src/detect/findings';
import { ClassifierDataWriter } from '../src/detect/classifier-data-writer';
import type { Volume } from '../src/dicom/volume';
import { iobb } from '../src/eval/froc';
import { countOption, numberOption, parseOptions, STUDY_SET_OPTIONS, studySetOptions, type StudySetArgs } from './args';
import { isValidationStudy } from './real-ct-studies';
import { forEachStudy } from './study-set';

interface Args extends StudySetArgs {
  out: string;
  minScore: number;
  top: number;
  ignoreTop: number;
  ignoreScore: number;
}

function parseCommandLine(argv: string[]): Args {
  const o = parseOptions(argv, {
    values: [...STUDY_SET_OPTIONS, 'out', 'min-score', 'top', 'ignore-top', 'ignore-score'],
  });
  const a: Args = {
    ...studySetOptions(o, { phantomSeed: 6001, phantomSize: 256, insertSeed: 8201 }),
    out: o.out ?? '',
    minScore: numberOption(o['min-score'], 'min-score', 0.15),
    top: countOption(o.top, 'top', 150),
    ignoreTop: countOption(o['ignore-top'], 'ignore-top', 3),
    ignoreScore: numberOption(o['ignore-score'], 'ignore-score', 0.5),
  };
  if (!a.out) throw new Error('--out DIR is required');
  for (const b of a.backgrounds)
    if (isValidationStudy(b)) throw new Error(`${b} is validation only: never a training background`);
  return a;
}

const inside = (b: BoxLPS, p: [number, number, number], grow = 5) => [0, 1, 2].every((d) => p[d] >= b[d] - grow && p[d] <= b[d + 3] + grow);

async function candidates(detector: Detector, v: Volume, a: Args) {
  const { findings } = await detector.detect(v);
  return findings.lesions.filter((l) => l.score >= a.minScore).slice(0, a.top);
}

async function main(): Promise<void> {
  const a = parseCommandLine(process.argv.slice(2));
  const detector = await loadDetector(a.model, { executionProviders: ['cpu'], threads: 0, batchSize: 4 }, { scoreThreshold: 0 });
  const w = new ClassifierDataWriter(a.out);
  await forEachStudy(a, async (name, volume, truth, origin) => {
    const cands = await candidates(detector, volume, a);
    if (origin.kind === 'inserted') labelReal(w, volume, truth, cands, a, { study: name, kind: 'inserted', background: origin.background });
    else {
      for (const c of cands) {
        const centre = boxCentre(c.bboxLPS);
        const hit = truth.lesions.some((l) => iobb(c.bboxLPS, l.bboxLPS) >= 0.3);
        const partial = !hit && truth.lesions.some((l) => inside(l.bboxLPS, centre));
        w.add(volume, c.bboxLPS, c.score, hit ? 1 : partial ? -1 : 0, { study: name, kind: 'phantom', why: hit ? 'lesion' : partial ? 'partial' : 'phantom-anatomy' });
      }
    }
    process.stderr.write(`${origin.kind === 'phantom' ? 'phantom ' : ''}${name}: ${JSON.stringify(w.counts)}\n`);
  });
  await detector.dispose();
  w.close();
  process.stdout.write(`${a.out}: ${JSON.stringify(w.counts)}\n`);
}

/** Inserted lesions are exact truth; the rest of a real study is real anatomy under the LENS ignore rule. */
function labelReal(w: ClassifierDataWriter, v: Volume, truth: TruthStudy, cands: { bboxLPS: BoxLPS; score: number }[], a: Args, meta: Record<string, unknown>): void {
  let realRank = 0;
  for (const c of cands) {
    const centre = boxCentre(c.bboxLPS);
    if (truth.lesions.some((l) => iobb(c.bboxLPS, l.bboxLPS) >= 0.3)) w.add(v, c.bboxLPS, c.score, 1, { ...meta, why: 'lesion' });
    else if (truth.lesions.some((l) => inside(l.bboxLPS, centre))) w.add(v, c.bboxLPS, c.score, -1, { ...meta, why: 'partial' });
    else {
      // Candidates come sorted by score, so the first real-anatomy ones are the most confident.
      realRank++;
      const confident = realRank <= a.ignoreTop || c.score >= a.ignoreScore;
      w.add(v, c.bboxLPS, c.score, confident ? -1 : 0, { ...meta, why: confident ? 'real-anatomy-confident' : 'real-anatomy' });
    }
  }
}

main().catch((e) => {
  process.stderr.write(`classifier-candidates: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
