/**
 * Long-axis measurement rules compared on one study set: the network runs once per study, and the 3D assembly is
 * replayed with each rule (`--rule '{"longAxis":"box"}'`, merged over DEFAULT_LESION_OPTIONS; default: the mask and
 * the box rule). For each rule: how many found lesions have a long axis within 25 % of their annotated extent
 * (src/eval/measurement.ts), overall and per type.
 *
 *   node -r tsx/cjs scripts/evaluate-measurement.ts [--model models/lens-ulb] [--phantom-seed 7001 --phantoms 10
 *       --phantom-size 256] [--backgrounds DIR,... --insert-seed 8301 --inserted 5] [--rule JSON ...]
 *
 * Choose a rule on validation data (phantom seed 7001, backgrounds other than lung-dx-a0001 and lidc-idri-0314);
 * scripts/evaluate-real-ct.ts reports the chosen one on the validation-only studies.
 */
import { loadDetector } from '../src/detect/detector';
import type { Findings, TruthStudy } from '../src/detect/findings';
import { DEFAULT_LESION_OPTIONS, type LesionOptions } from '../src/detect/lesions';
import { formatMeasurement, measureLesions, summariseMeasurement, type Measured } from '../src/eval/measurement';
import { parseOptions, STUDY_SET_OPTIONS, studySetOptions } from './args';
import { describeStudySet, forEachStudy } from './study-set';

const DEFAULT_RULES = ['{"longAxis":"mask"}', '{"longAxis":"box"}'];

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: [...STUDY_SET_OPTIONS], repeated: ['rule'] });
  const a = studySetOptions(o, { phantomSeed: 7001, phantomSize: 256, insertSeed: 8301 });
  const rules = (o.rule?.length ? o.rule : DEFAULT_RULES).map((r) => ({ text: r, lesion: { ...DEFAULT_LESION_OPTIONS, ...(JSON.parse(r) as Partial<LesionOptions>) } }));
  const detector = await loadDetector(a.model, { executionProviders: ['cpu'], threads: 0, batchSize: 4 }, { scoreThreshold: 0, secondStage: false }, null);
  const measured: Measured[][] = rules.map(() => []);
  let lesions = 0;
  await forEachStudy(a, async (name, volume, truth: TruthStudy) => {
    const { detections, grid } = await detector.detectPositions(volume);
    rules.forEach((r, i) => {
      const { lesions: found } = detector.assemble(detections, volume, grid, { ...detector.options, lesion: r.lesion });
      const findings: Findings = { studyInstanceUID: truth.studyInstanceUID, seriesInstanceUID: volume.seriesInstanceUID, model: { ...detector.reportedModel(), executionProvider: 'cpu' }, lesions: found, timingsMs: {} };
      measured[i].push(...measureLesions([truth], [findings]).measured);
    });
    lesions += truth.lesions.length;
    process.stderr.write(`${name}: ${truth.lesions.length} lesions\n`);
  });
  await detector.dispose();
  console.log(`model ${detector.manifest.name} ${detector.manifest.version}; ${describeStudySet(a)}; every candidate (a lesion is measured by the best-ranked finding hitting it)`);
  rules.forEach((r, i) => console.log(`rule ${r.text}\n${formatMeasurement(summariseMeasurement(lesions, measured[i]))}`));
}

main().catch((e) => {
  process.stderr.write(`evaluate-measurement: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
