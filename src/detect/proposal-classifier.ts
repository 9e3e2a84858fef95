/**
 * The second stage: a proposal classifier (models/lens-fpr, trained by models/training/train_classifier.py) that
 * looks at 3D context around each detector candidate (proposal-crops.ts) and says how likely it is a lesion, so
 * that normal anatomy (vessels, bowel, liver, bone) stops being reported.
 *
 * Chaining rule (recorded in the classifier's manifest, `scoring`): the detector assembles lesions down to
 * `candidateScoreThreshold`; at most `maxCandidates` of them (highest detector score first) are classified; the
 * final score is sqrt(detector score x classifier probability) ('geometric-mean') or the probability alone
 * ('classifier'); findings are reported when the final score reaches `finalScoreThreshold`.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Volume } from '../dicom/volume';
import type { Lesion } from './findings';
import { trackingUid, type LesionMask } from './lesions';
import { ModelError } from './load-manifest';
import { candidateInput, channelCount, cropLength, CropSpecError, DEFAULT_CROP_SPEC, FEATURE_COUNT, parseCropSpec, type CropSpec } from './proposal-crops';
import { createSession } from './session';

export interface ProposalScoring {
  candidateScoreThreshold: number;
  maxCandidates: number;
  combine: 'geometric-mean' | 'classifier';
  finalScoreThreshold: number;
}

export interface ProposalClassifierManifest {
  name: string;
  version: string;
  file: string;
  /** crop: the crops' geometry it was trained on (absent: DEFAULT_CROP_SPEC, the classifiers made before it was recorded). */
  input: { crops: string; features: string; channels: number; size: [number, number, number]; crop?: unknown };
  output: { probability: string };
  scoring: ProposalScoring;
  training?: Record<string, unknown>;
  evaluation?: Record<string, unknown>;
}

/** The candidates the classifier was trained on (scripts/classifier-candidates.ts --min-score 0.15 --top 150). */
export const DEFAULT_SCORING: ProposalScoring = { candidateScoreThreshold: 0.15, maxCandidates: 150, combine: 'geometric-mean', finalScoreThreshold: 0 };

export function readProposalManifest(dir: string): { manifest: ProposalClassifierManifest; onnxPath: string; spec: CropSpec } {
  const file = path.resolve(dir, 'model.json');
  if (!fs.existsSync(file)) throw new ModelError(`no proposal classifier manifest at ${file}`);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ProposalClassifierManifest>;
  if (!raw.input) throw new ModelError(`${file}: input is required`);
  let spec = DEFAULT_CROP_SPEC;
  try {
    if (raw.input.crop !== undefined) spec = parseCropSpec(raw.input.crop, `${file} input.crop`);
  } catch (e) {
    if (e instanceof CropSpecError) throw new ModelError(e.message);
    throw e;
  }
  if (raw.input.channels !== channelCount(spec) || JSON.stringify(raw.input.size) !== JSON.stringify(spec.size))
    throw new ModelError(`${file}: input ${JSON.stringify({ channels: raw.input.channels, size: raw.input.size })} does not match its crops (${channelCount(spec)} channels of ${spec.size.join(' x ')})`);
  if (!raw.output?.probability || typeof raw.file !== 'string') throw new ModelError(`${file}: output.probability and file are required`);
  const manifest = { ...raw, scoring: { ...DEFAULT_SCORING, ...raw.scoring } } as ProposalClassifierManifest;
  const onnxPath = path.resolve(path.dirname(file), manifest.file);
  if (!fs.existsSync(onnxPath)) throw new ModelError(`proposal classifier file ${onnxPath} named by ${file} does not exist`);
  return { manifest, onnxPath, spec };
}

export class ProposalClassifier {
  private constructor(
    readonly manifest: ProposalClassifierManifest,
    private readonly session: ort.InferenceSession,
    readonly spec: CropSpec,
  ) {}

  static async load(dir: string, threads = 0): Promise<ProposalClassifier> {
    const { manifest, onnxPath, spec } = readProposalManifest(dir);
    const { session } = await createSession(onnxPath, { executionProviders: ['cpu'], threads });
    return new ProposalClassifier(manifest, session, spec);
  }

  /** Lesion probability of each candidate (in the order given). */
  async probabilities(volume: Volume, lesions: readonly Pick<Lesion, 'bboxLPS' | 'score'>[], batch = 64): Promise<number[]> {
    const per = cropLength(this.spec);
    const out: number[] = [];
    const [D, H, W] = this.spec.size;
    for (let start = 0; start < lesions.length; start += batch) {
      const part = lesions.slice(start, start + batch);
      const crops = new Float32Array(part.length * per);
      const feats = new Float32Array(part.length * FEATURE_COUNT);
      part.forEach((l, b) => candidateInput(volume, l.bboxLPS, l.score, this.spec, crops.subarray(b * per, (b + 1) * per), feats.subarray(b * FEATURE_COUNT, (b + 1) * FEATURE_COUNT)));
      const m = this.manifest;
      const r = await this.session.run({
        [m.input.crops]: new ort.Tensor('float32', crops, [part.length, channelCount(this.spec), D, H, W]),
        [m.input.features]: new ort.Tensor('float32', feats, [part.length, FEATURE_COUNT]),
      });
      out.push(...(r[m.output.probability].data as Float32Array));
    }
    return out;
  }

  /** The final score of a candidate from its detector score and classifier probability (the manifest's rule). */
  finalScore(detectorScore: number, probability: number): number {
    return this.manifest.scoring.combine === 'classifier' ? probability : Math.sqrt(detectorScore * probability);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The chaining rule: the top `maxCandidates` lesions by detector score are classified and get the final score
 * (`heads` keeps both inputs: `detector`, `classifier`); those reaching minFinal are reported, renumbered in
 * descending final score, with their masks and tracking UIDs following the new numbers.
 */
export async function rescoreLesions(
  c: ProposalClassifier,
  volume: Volume,
  lesions: Lesion[],
  masks: Map<number, LesionMask>,
  minFinal: number,
  model: { name: string; version: string },
): Promise<{ lesions: Lesion[]; masks: Map<number, LesionMask> }> {
  const top = [...lesions].sort((a, b) => b.score - a.score).slice(0, c.manifest.scoring.maxCandidates);
  const p = await c.probabilities(volume, top);
  const scored = top
    .map((l, i) => ({ l, p: p[i], final: c.finalScore(l.score, p[i]) }))
    .filter((x) => x.final >= minFinal)
    .sort((a, b) => b.final - a.final);
  const outMasks = new Map<number, LesionMask>();
  const out = scored.map(({ l, p: prob, final }, i) => {
    const id = i + 1;
    const mask = masks.get(l.id);
    if (mask) outMasks.set(id, mask);
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
    return { ...l, id, score: r4(final), trackingUid: trackingUid(volume.seriesInstanceUID, model, id, l.bboxLPS), heads: { ...l.heads, detector: l.score, classifier: r4(prob) } };
  });
  return { lesions: out, masks: outMasks };
}
