/**
 * Tuning the 3D postprocessing (linking, lesion scoring, 3D suppression) without rerunning the network.
 *
 *   node -r tsx/cjs scripts/tune-postprocess.ts --dump DIR --cache CACHE --seed 7001 --studies 30 [--model M] [--threshold 0.05]
 *   node -r tsx/cjs scripts/tune-postprocess.ts --replay DIR [--model M] --options '{"lesion":{...},"link":{...}}' [--options ...]
 *
 * --dump runs the network once per study of an evaluate-model.ts cache (fill it with `evaluate-model.ts --cache CACHE
 * --generate-only`) and stores the fused per-position detections (without mask crops: the 3D boxes that the FROC
 * scores do not depend on the masks), the volume geometry and the truth. --replay assembles lesions from them with
 * each --options (merged over the detector's defaults) and prints the FROC of each
 * (docs/contracts.md#evaluation-protocol).
 * Tune only on a seed that is neither trained nor tested on (e.g. 7001), never on the test seed 9001.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assembleLesions, loadDetector } from '../src/detect/detector';
import type { Findings, TruthStudy } from '../src/detect/findings';
import { DEFAULT_LESION_OPTIONS, type PositionedDetection } from '../src/detect/lesions';
import { DEFAULT_LINK } from '../src/detect/link3d';
import { readManifest } from '../src/detect/load-manifest';
import { InPlaneGrid } from '../src/detect/preprocess';
import type { Volume } from '../src/dicom/volume';
import { evaluate } from '../src/eval/froc';
import { countOption, numberOption, parseOptions, type OptionValues } from './args';
import { readCachedStudy } from './study-cache';

type Geometry = Omit<Volume, 'data'>;
interface Dump {
  seed: number;
  truth: TruthStudy;
  volume: Geometry;
  detections: PositionedDetection[];
}

const OPTIONS = { values: ['dump', 'cache', 'seed', 'studies', 'model', 'threshold', 'replay'], repeated: ['options'] } as const;
type Values = OptionValues<(typeof OPTIONS.values)[number], never, (typeof OPTIONS.repeated)[number]>;

async function dump(dir: string, o: Values): Promise<void> {
  const cache = o.cache;
  const seed = countOption(o.seed, 'seed');
  const studies = countOption(o.studies, 'studies', 30);
  if (!cache || seed === undefined) throw new Error('--dump needs --cache DIR and --seed N');
  const model = o.model ?? 'models/lens-ulb';
  const threshold = numberOption(o.threshold, 'threshold', 0.05);
  const detector = await loadDetector(model, { executionProviders: ['cpu'], threads: 0, batchSize: 4 }, { candidateThreshold: threshold, scoreThreshold: 0 });
  fs.mkdirSync(dir, { recursive: true });
  for (let s = 0; s < studies; s++) {
    const study = readCachedStudy(cache, seed * 1000 + s);
    if (!study) throw new Error(`no study ${seed * 1000 + s} in ${cache} (fill it with evaluate-model.ts --cache ${cache} --generate-only)`);
    const { data: _data, ...geometry } = study.volume;
    const meta = { seed: study.seed, truth: study.truth, volume: geometry };
    const { detections } = await detector.detectPositions(study.volume);
    const d: Dump = { ...meta, detections: detections.map(({ mask: _mask, ...rest }) => rest) };
    fs.writeFileSync(path.join(dir, `${meta.seed}.json`), JSON.stringify(d));
    process.stderr.write(`dumped ${s + 1}/${studies} seed ${meta.seed}: ${detections.length} detections\n`);
  }
  await detector.dispose();
}

function replay(dir: string, o: Values): void {
  const { manifest } = readManifest(o.model ?? 'models/lens-ulb');
  const dumps = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Dump);
  const variants = o.options ?? [];
  for (const v of variants.length ? variants : ['{}']) {
    const o = JSON.parse(v) as { lesion?: object; link?: object };
    const opts = { lesion: { ...DEFAULT_LESION_OPTIONS, ...o.lesion }, link: { ...DEFAULT_LINK, ...o.link } };
    const findings: Findings[] = dumps.map((d) => ({
      studyInstanceUID: d.truth.studyInstanceUID,
      seriesInstanceUID: d.volume.seriesInstanceUID,
      model: { name: manifest.name, version: manifest.version, executionProvider: 'cpu' },
      lesions: assembleLesions(d.detections, d.volume, InPlaneGrid.forVolume(d.volume, manifest), manifest, opts).lesions,
      timingsMs: {},
    }));
    const r = evaluate(
      dumps.map((d) => d.truth),
      findings,
    );
    const per = Object.entries(r.perType.types)
      .map(([k, t]) => `${k.split('_')[0]} ${t.sensitivity.toFixed(2)}`)
      .join(' ');
    console.log(`avg ${r.averageSensitivity.toFixed(3)} | ${r.sensitivityAtFp.map((s) => s.sensitivity.toFixed(2)).join(' ')} | ${per} | ${v}`);
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), OPTIONS);
  if (o.dump !== undefined) await dump(o.dump, o);
  else if (o.replay !== undefined) replay(o.replay, o);
  else throw new Error('--dump DIR or --replay DIR is required');
}

main().catch((e) => {
  process.stderr.write(`tune-postprocess: ${(e as Error).message}\n`);
  process.exit(1);
});
