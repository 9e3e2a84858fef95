/**
 * Harvest benchmark (no assertions): a synthetic archive (`lens synth` studies, DeepLesion-like partial labels
 * stored as readers' TID 1500 SRs, every n-th study completely annotated) is harvested, and the harvested lesions
 * are measured against the generator's full truth: precision (harvested candidates hitting an unlabeled lesion,
 * IoBB >= 0.3 as the evaluation protocol) and recall of the unlabeled lesions of the studies that are not
 * completely annotated; also how many hard negatives are in truth lesions. Target (issue 13): precision >= 0.95
 * at recall >= 0.60. Also prints the precision/recall the same candidates give at other high thresholds, and what
 * the false candidates are (the phantom's normal tissue at their centre, or a lesion their box missed).
 *
 *   node -r tsx/cjs bench/harvest-precision.ts [--studies 40] [--seed 8001] [--complete-every 10] [--size 256]
 *     [--slices 40] [--thickness 5] [--orthanc] [--keep DIR] [--classifier models/lens-fpr] [--detector models/lens-ulb]
 * --orthanc: the archive is stored in a real Orthanc and harvested over DICOMweb (otherwise from the folder).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../src/config/schema';
import { loadDetector } from '../src/detect/detector';
import { boxCentre, iobb } from '../src/detect/box3d';
import { ProposalClassifier } from '../src/detect/proposal-classifier';
import { DicomWebArchive, FolderArchive, type HarvestArchive } from '../src/harvest/archives';
import { HarvestDataset, type RecordedCandidate } from '../src/harvest/dataset';
import { runHarvest } from '../src/harvest/harvest-run';
import { matches, thresholdPolicy } from '../src/harvest/proposals';
import { writeSyntheticArchive } from '../src/harvest/synthetic-archive';
import { phantomTissueAt, planStudy } from '../src/synth/study';
import { DicomWebClient } from '../src/pacs/dicomweb';
import { OrthancProcess } from '../src/pacs/orthanc-process';
import { countOption, numberOption, parseOptions } from '../scripts/args';

const repo = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['studies', 'seed', 'complete-every', 'size', 'slices', 'thickness', 'keep', 'classifier', 'detector'], flags: ['orthanc'] });
  const studiesN = countOption(o.studies, 'studies', 40);
  const seed = countOption(o.seed, 'seed', 8001);
  const completeEvery = countOption(o['complete-every'], 'complete-every', 10);
  const size = countOption(o.size, 'size', 256);
  const slices = countOption(o.slices, 'slices', 40);
  const thickness = numberOption(o.thickness, 'thickness', 5);
  const synth = { size, slices, thickness };
  const tmp = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'harvest-bench-'));
  const cpu = os.cpus();
  console.log(`machine: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores, node ${process.version}`);

  let t = performance.now();
  const studies = writeSyntheticArchive(path.join(tmp, 'archive'), { seed, studies: studiesN, completeEvery, synth });
  const lesions = studies.reduce((n, s) => n + s.truth.lesions.length, 0);
  const labeled = studies.reduce((n, s) => n + s.labeled.length, 0);
  const complete = studies.filter((s) => s.complete).length;
  console.log(`archive: ${studies.length} studies (${complete} completely annotated), ${lesions} lesions, ${labeled} in readers' SRs (${((1 - labeled / lesions) * 100).toFixed(0)} % unlabeled); generated in ${s(t)}`);

  let orthanc: OrthancProcess | undefined;
  let archive: HarvestArchive = new FolderArchive(path.join(tmp, 'archive'));
  const cfg = configSchema.parse({});
  if (o.orthanc) {
    orthanc = await OrthancProcess.start({});
    t = performance.now();
    for (const f of studies.flatMap((x) => x.files)) {
      const r = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: fs.readFileSync(f) });
      if (!r.ok) throw new Error(`upload of ${f}: ${r.status}`);
    }
    console.log(`stored in Orthanc in ${s(t)}`);
    archive = new DicomWebArchive(new DicomWebClient({ ...cfg.pacs, dicomwebUrl: orthanc.dicomwebUrl, frameConcurrency: cfg.harvest.maxConcurrentRequests }), {});
  }
  const detector = await loadDetector(path.resolve(o.detector ?? path.join(repo, 'models/lens-ulb')), {}, {}, null);
  const classifier = await ProposalClassifier.load(path.resolve(o.classifier ?? path.join(repo, 'models/lens-fpr')));
  console.log(`detector: ${detector.manifest.name} ${detector.manifest.version}; proposal classifier: ${classifier.manifest.name} ${classifier.manifest.version}`);
  const dataset = new HarvestDataset(path.join(tmp, 'dataset'));
  t = performance.now();
  try {
    const run = await runHarvest({ archive, dataset, detector, classifier, rules: cfg.selection, policy: thresholdPolicy(cfg.harvest, classifier) });
    console.log(`harvest: ${s(t)} (${(((performance.now() - t) / 1000) / studies.length).toFixed(1)} s/study); thresholds ${JSON.stringify(run.thresholds)}`);
    console.log(`counts: ${JSON.stringify(run.counts)}`);
  } finally {
    await detector.dispose();
    await classifier.dispose();
    await orthanc?.dispose();
  }

  // Against the full truth: the unlabeled lesions of the studies that are not completely annotated.
  const candidates: { c: RecordedCandidate; hits: number[]; labeledHit: boolean; study: number }[] = [];
  let unlabeled = 0;
  let hardNegativeLesions = 0;
  let hardNegatives = 0;
  studies.forEach((st, si) => {
    const r = dataset.read(st.truth.studyInstanceUID);
    if (!r || r.skipped) return;
    const isLabeled = new Set(st.labeled);
    const hit = (c: RecordedCandidate) => st.truth.lesions.map((l, i) => (iobb(c.bboxLPS, l.bboxLPS) >= 0.3 ? i : -1)).filter((i) => i >= 0);
    for (const c of r.hardNegatives) {
      hardNegatives++;
      if (hit(c).length) hardNegativeLesions++;
    }
    if (st.complete) return;
    unlabeled += st.truth.lesions.length - isLabeled.size;
    for (const c of [...r.harvested, ...r.uncertain, ...r.hardNegatives.filter((h) => h.why === 'below-low')]) {
      const hits = hit(c);
      candidates.push({ c, hits: hits.filter((i) => !isLabeled.has(i)), labeledHit: hits.some((i) => isLabeled.has(i)), study: si });
    }
  });
  const at = (pick: (c: RecordedCandidate) => boolean) => {
    const chosen = candidates.filter((x) => pick(x.c));
    const tp = chosen.filter((x) => x.hits.length > 0).length;
    const found = new Set(chosen.flatMap((x) => x.hits.map((i) => `${x.study}/${i}`)));
    return { harvested: chosen.length, precision: chosen.length ? tp / chosen.length : NaN, recall: unlabeled ? found.size / unlabeled : NaN };
  };
  const f = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(3));
  const result = at((c) => c.status === 'harvested');
  console.log(`\nunlabeled lesions (not completely annotated studies): ${unlabeled}`);
  console.log(`HARVESTED: ${result.harvested} lesions, precision ${f(result.precision)}, recall of the unlabeled ${f(result.recall)} (target >= 0.95 at >= 0.60)`);
  console.log(`hard negatives: ${hardNegatives}, of which ${hardNegativeLesions} overlap a truth lesion (IoBB >= 0.3)`);
  console.log('\nthe same candidates at other high thresholds:');
  for (const th of [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999]) {
    const r = at((c) => c.score >= th);
    console.log(`  score >= ${th}: ${r.harvested} harvested, precision ${f(r.precision)}, recall ${f(r.recall)}`);
  }
  // What any threshold of each score could reach on these candidates: the limit of the proposals, not of the thresholds.
  console.log('\nthe best any threshold reaches, per score (precision >= 0.95: the highest recall; all candidates: the recall ceiling):');
  const scores: [string, (c: RecordedCandidate) => number][] = [['detector', (c) => c.detectorScore], ['classifier', (c) => c.classifierProbability], ['combined', (c) => c.score]];
  for (const [name, score] of scores) {
    const ranked = [...candidates].sort((a, b) => score(b.c) - score(a.c));
    const found = new Set<string>();
    let tp = 0;
    let best = { recall: 0, threshold: NaN };
    ranked.forEach((x, i) => {
      if (x.hits.length) tp++;
      for (const h of x.hits) found.add(`${x.study}/${h}`);
      const last = i + 1 === ranked.length || score(ranked[i + 1].c) < score(x.c);
      if (last && tp / (i + 1) >= 0.95 && found.size / unlabeled > best.recall) best = { recall: found.size / unlabeled, threshold: score(x.c) };
    });
    console.log(`  ${name}: recall ${f(best.recall)} at precision >= 0.95 (score >= ${f(best.threshold)}); ceiling ${f(found.size / unlabeled)}`);
  }
  // What the false candidates are: the phantom's normal tissue at their centre. Two sets: the false ones harvested,
  // and the false ones the combined score ranks above the point where the ranking reaches the target's recall
  // (0.60), which are what stands between the ranking and precision 0.95.
  const plans = new Map<number, ReturnType<typeof planStudy>>();
  const tissueOf = (x: (typeof candidates)[number]) => {
    if (x.labeledHit) return 'a labeled lesion the harvest did not match';
    const seedOf = studies[x.study].truth.seed;
    if (!plans.has(seedOf)) plans.set(seedOf, planStudy(seedOf, synth));
    // Not a hit by IoBB, so a match here is the harvest's other criterion: the box covers the lesion's centre.
    if (studies[x.study].truth.lesions.some((l) => matches(x.c.bboxLPS, l.bboxLPS))) return 'a lesion with IoBB < 0.3 (box around its centre)';
    return phantomTissueAt(plans.get(seedOf)!, boxCentre(x.c.bboxLPS));
  };
  const byTissue = (list: typeof candidates) => {
    const n = new Map<string, number>();
    for (const t of list.map(tissueOf)) n.set(t, (n.get(t) ?? 0) + 1);
    return [...n].sort((a, b) => b[1] - a[1]).map(([t, k]) => `${t} ${k}`).join(', ') || 'none';
  };
  const isFalse = (x: (typeof candidates)[number]) => x.hits.length === 0;
  const ranked = [...candidates].sort((a, b) => b.c.score - a.c.score);
  const reached = new Set<string>();
  const cut = ranked.findIndex((x) => (x.hits.forEach((h) => reached.add(`${x.study}/${h}`)), reached.size >= 0.6 * unlabeled));
  const above = cut < 0 ? ranked : ranked.slice(0, cut + 1);
  console.log('\nfalse candidates (no unlabeled lesion hit) by the phantom\'s normal tissue at their centre:');
  console.log(`  harvested: ${byTissue(candidates.filter((x) => x.c.status === 'harvested' && isFalse(x)))}`);
  console.log(`  ranked above recall 0.60 (${cut < 0 ? 'never reached' : `combined score >= ${ranked[cut].c.score.toFixed(3)}, ${above.length} candidates`}): ${byTissue(above.filter(isFalse))}`);
  if (!o.keep) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`\narchive and dataset kept in ${tmp}`);
}

function s(t: number): string {
  return `${((performance.now() - t) / 1000).toFixed(1)} s`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
