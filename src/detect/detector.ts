/**
 * The detector: a manifest-described ONNX model run over a volume. Positions are streamed in batches (stacks built
 * from a sliding window of resampled slices), every head decoded, proposals fused per slice, linked into 3D lesions.
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LensConfig } from '../config/schema';
import type { Volume } from '../dicom/volume';
import { log } from '../log';
import type { Box2D } from './box2d';
import { decodeHead } from './decode';
import type { Findings, Lesion, LesionType } from './findings';
import { calibratedScore, fuseDetections, type HeadDetection } from './fuse';
import { chainsToLesions, DEFAULT_LESION_OPTIONS, type AssembleContext, type LesionMask, type LesionOptions, type MaskCrop, type PositionedDetection } from './lesions';
import { DEFAULT_LINK, linkDetections, type LinkOptions } from './link3d';
import { readManifest } from './load-manifest';
import { ProposalClassifier, rescoreLesions } from './proposal-classifier';
import type { ModelManifest } from './manifest';
import { StackBuilder } from './preprocess';
import { assertGraphMatches, createSession, type ProviderName } from './session';
import { accumulate, toMean, transformInput, untransformOutput, type TestTimeAugmentation } from './test-time-augmentation';

export interface DetectOptions {
  /** Overrides every head's 2D candidate threshold (the evaluation lowers it to sweep the whole FROC curve). */
  candidateThreshold?: number;
  /** Overrides the manifest's lesionScoreThreshold: lesions scoring below it are not reported. */
  scoreThreshold?: number;
  /** Peaks kept per head and image. */
  topK: number;
  /** IoU at which proposals of one slice are fused. */
  fuseIoU: number;
  link: LinkOptions;
  lesion: LesionOptions;
  batchSize: number;
  /** Overrides the manifest's output.testTimeAugmentation (the extra passes averaged with the plain one). */
  testTimeAugmentation?: TestTimeAugmentation[];
  /** Run the proposal classifier when the detector has one (false: the detector's own scores, as without it). */
  secondStage: boolean;
}

/** Graph outputs of one batch, by name: data and dims [n, c, h, w]. */
type BatchOutputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

export interface DetectionResult {
  findings: Findings;
  /** Lesion id -> per-slice masks on the original series (models with a mask output). */
  masks?: Map<number, LesionMask>;
}

export type ModelConfig = LensConfig['model'];

/**
 * classifierDir: the proposal classifier (second stage) to chain; undefined: the one the manifest names
 * (`proposalClassifier`, relative to the manifest), if any; null: none.
 */
export async function loadDetector(modelDir: string, cfg: Partial<ModelConfig> & { cudaDeviceId?: number } = {}, options: Partial<DetectOptions> = {}, classifierDir?: string | null): Promise<Detector> {
  const { manifest, onnxPath } = readManifest(modelDir);
  const fromManifest = typeof manifest.proposalClassifier === 'string' ? path.resolve(modelDir, manifest.proposalClassifier) : undefined;
  const secondDir = classifierDir === undefined ? fromManifest : classifierDir ?? undefined;
  const classifier = secondDir ? await ProposalClassifier.load(secondDir, cfg.threads ?? 0) : undefined;
  const opened = await createSession(onnxPath, { executionProviders: cfg.executionProviders ?? ['cpu'], threads: cfg.threads ?? 0, cudaDeviceId: cfg.cudaDeviceId });
  try {
    assertGraphMatches(manifest, opened.session, onnxPath);
  } catch (e) {
    await opened.session.release();
    throw e;
  }
  log.info('model loaded', { model: manifest.name, version: manifest.version, executionProvider: opened.provider, threads: cfg.threads ?? 0 });
  return new Detector(
    manifest,
    opened.session,
    opened.provider,
    {
      batchSize: cfg.batchSize ?? 4,
      ...(cfg.scoreThreshold !== undefined ? { scoreThreshold: cfg.scoreThreshold } : {}),
      ...options,
    },
    classifier,
  );
}

export class Detector {
  readonly options: DetectOptions;

  constructor(
    readonly manifest: ModelManifest,
    private readonly session: ort.InferenceSession,
    readonly executionProvider: ProviderName,
    options: Partial<DetectOptions> = {},
    readonly classifier?: ProposalClassifier,
  ) {
    this.options = { topK: 50, fuseIoU: manifest.output.fusion?.iouThreshold ?? 0.55, link: DEFAULT_LINK, lesion: DEFAULT_LESION_OPTIONS, batchSize: 4, secondStage: true, ...options };
  }

  /** The proposal classifier these options run, if any. */
  secondStage(opts = this.options): ProposalClassifier | undefined {
    return opts.secondStage ? this.classifier : undefined;
  }

  /** The threshold decoding uses for a head: the override or the manifest's. */
  thresholdFor(head: ModelManifest['output']['heads'][number], opts = this.options): number {
    return opts.candidateThreshold ?? head.scoreThreshold;
  }

  /** The extra passes averaged with the plain one: the override or the manifest's (none by default). */
  augmentations(opts = this.options): TestTimeAugmentation[] {
    return opts.testTimeAugmentation ?? this.manifest.output.testTimeAugmentation ?? [];
  }

  /** The reported operating point: the override, else the second stage's (final scores), else the manifest's (0: every lesion). */
  lesionThreshold(opts = this.options): number {
    const second = this.secondStage(opts);
    return opts.scoreThreshold ?? (second ? second.manifest.scoring.finalScoreThreshold : this.manifest.output.lesionScoreThreshold ?? 0);
  }

  /** The model its findings (and the UIDs of their SR and SEG) name: the second stage changes what is reported. */
  reportedModel(opts = this.options): { name: string; version: string } {
    const m = this.manifest;
    const second = this.secondStage(opts);
    return { name: m.name, version: second ? `${m.version}+${second.manifest.name}-${second.manifest.version}` : m.version };
  }

  async detect(volume: Volume, overrides: Partial<DetectOptions> = {}): Promise<DetectionResult> {
    const opts: DetectOptions = { ...this.options, ...overrides };
    const m = this.manifest;
    const { detections, grid, timings } = await this.detectPositions(volume, opts);
    const t = performance.now();
    const second = this.secondStage(opts);
    const secondTimings: Record<string, number> = {};
    let { lesions, masks } = this.assemble(detections, volume, grid, opts, second ? second.manifest.scoring.candidateScoreThreshold : this.lesionThreshold(opts));
    timings.postprocess += performance.now() - t;
    if (second) {
      const t2 = performance.now();
      ({ lesions, masks } = await rescoreLesions(second, volume, lesions, masks, this.lesionThreshold(opts), m));
      secondTimings.classifier = performance.now() - t2;
    }
    const findings: Findings = {
      studyInstanceUID: volume.studyInstanceUID,
      seriesInstanceUID: volume.seriesInstanceUID,
      model: { ...this.reportedModel(opts), executionProvider: this.executionProvider },
      lesions,
      timingsMs: Object.fromEntries(Object.entries({ ...timings, ...secondTimings }).map(([k, v]) => [k, Math.round(v)])),
    };
    return m.output.mask ? { findings, masks } : { findings };
  }

  /**
   * The per-position half of detect(): the network over every analysed position, decoded and fused per slice. Kept
   * separate so that the 3D postprocessing (assemble) can be replayed on the same detections, e.g. to tune it.
   */
  async detectPositions(
    volume: Volume,
    opts: DetectOptions = this.options,
  ): Promise<{ detections: PositionedDetection[]; grid: StackBuilder['grid']; timings: { preprocess: number; inference: number; postprocess: number } }> {
    const m = this.manifest;
    const timings = { preprocess: 0, inference: 0, postprocess: 0 };
    const builder = new StackBuilder(volume, m);
    const { grid } = builder;
    const stride = m.output.stride;
    const outW = grid.paddedWidth / stride;
    const outH = grid.paddedHeight / stride;
    const dets: PositionedDetection[] = [];
    const n = builder.positionsMm.length;
    for (let start = 0; start < n; start += opts.batchSize) {
      const idx = Array.from({ length: Math.min(opts.batchSize, n - start) }, (_, i) => start + i);
      let t = performance.now();
      const input = builder.buildBatch(idx);
      timings.preprocess += performance.now() - t;
      t = performance.now();
      const out = await this.runAugmented(input, idx.length, grid.paddedHeight, grid.paddedWidth, this.augmentations(opts));
      timings.inference += performance.now() - t;
      t = performance.now();
      idx.forEach((p, b) => dets.push(...this.decodeImage(out, b, p, builder.positionsMm[p], outW, outH, grid.width, grid.height, opts)));
      timings.postprocess += performance.now() - t;
    }
    return { detections: dets, grid, timings };
  }

  /** The 3D half of detect(): per-position detections linked into chains, scored and assembled into lesions. */
  assemble(
    detections: readonly PositionedDetection[],
    volume: AssembleContext['volume'],
    grid: StackBuilder['grid'],
    opts: Pick<DetectOptions, 'link' | 'lesion'> = this.options,
    minScore = 0,
  ): { lesions: Lesion[]; masks: Map<number, LesionMask> } {
    return assembleLesions(detections, volume, grid, this.manifest, opts, minScore);
  }

  /** One inference call on a prepared batch [n, slices, h, w]; outputs keyed by graph name. */
  async runBatch(input: Float32Array, n: number, h: number, w: number): Promise<Record<string, ort.Tensor>> {
    const feeds = { [this.manifest.input.name]: new ort.Tensor('float32', input, [n, this.manifest.input.slices, h, w]) };
    return (await this.session.run(feeds)) as Record<string, ort.Tensor>;
  }

  /**
   * The plain pass plus one pass per test-time augmentation, their heatmaps, sizes and mask averaged in the plain
   * pass's geometry; offsets come from the plain pass (see test-time-augmentation.ts).
   */
  async runAugmented(input: Float32Array, n: number, h: number, w: number, augs: readonly TestTimeAugmentation[]): Promise<BatchOutputs> {
    const plain = await this.runBatch(input, n, h, w);
    const out: BatchOutputs = {};
    for (const [name, t] of Object.entries(plain)) out[name] = { data: t.data as Float32Array, dims: t.dims };
    if (augs.length === 0) return out;
    const m = this.manifest;
    const averaged = [...m.output.heads.flatMap((hd) => [hd.heatmap, hd.size]), ...(m.output.mask ? [m.output.mask] : [])];
    for (const name of averaged) out[name] = { data: Float32Array.from(out[name].data), dims: out[name].dims };
    const batch = { data: input, n, channels: m.input.slices, h, w };
    for (const aug of augs) {
      const extra = await this.runBatch(transformInput(batch, aug), n, h, w);
      for (const name of averaged) {
        const [bn, c, mh, mw] = extra[name].dims;
        accumulate(out[name].data, untransformOutput({ data: extra[name].data as Float32Array, n: bn, channels: c, h: mh, w: mw }, aug));
      }
    }
    for (const name of averaged) toMean(out[name].data, augs.length + 1);
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
    await this.classifier?.dispose();
  }

  private decodeImage(
    out: BatchOutputs,
    b: number,
    position: number,
    zMm: number,
    outW: number,
    outH: number,
    imgW: number,
    imgH: number,
    opts: DetectOptions,
  ): PositionedDetection[] {
    const m = this.manifest;
    const stride = m.output.stride;
    const plane = outW * outH;
    const proposals: HeadDetection[] = [];
    for (const head of m.output.heads) {
      const C = head.classes.length;
      const hm = out[head.heatmap].data;
      const size = out[head.size].data;
      const off = out[head.offset].data;
      const found = decodeHead(
        {
          heatmap: hm.subarray(b * C * plane, (b + 1) * C * plane),
          size: size.subarray(b * 2 * plane, (b + 1) * 2 * plane),
          offset: off.subarray(b * 2 * plane, (b + 1) * 2 * plane),
          channels: C,
          h: outH,
          w: outW,
        },
        stride,
        this.thresholdFor(head, opts),
        opts.topK,
      );
      const calibration = m.output.fusion?.calibration?.[head.name];
      for (const d of found) {
        const box = clipToImage(d.box, imgW, imgH);
        if (!box) continue;
        proposals.push({ head: head.name, type: head.classes[d.channel] as LesionType, box, score: calibratedScore(calibration, d.score) });
      }
    }
    const maskData = m.output.mask ? out[m.output.mask].data.subarray(b * plane, (b + 1) * plane) : undefined;
    return fuseDetections(proposals, opts.fuseIoU).map((f) => ({
      position,
      zMm,
      box: f.box,
      score: f.score,
      type: f.type,
      heads: f.heads,
      ...(maskData ? { mask: cropMask(maskData, outW, outH, f.box, stride) } : {}),
    }));
  }
}

/** Links per-position detections into chains and turns them into lesions (a free function: replayable without a session). */
export function assembleLesions(
  detections: readonly PositionedDetection[],
  volume: AssembleContext['volume'],
  grid: StackBuilder['grid'],
  m: ModelManifest,
  opts: Pick<DetectOptions, 'link' | 'lesion'>,
  minScore = 0,
): { lesions: Lesion[]; masks: Map<number, LesionMask> } {
  const chains = linkDetections(detections, opts.link);
  return chainsToLesions(
    chains,
    { volume, grid, strideMm: m.input.sliceStrideMm ?? m.input.sliceIntervalMm, model: { name: m.name, version: m.version } },
    opts.lesion,
    minScore,
  );
}

/** Clips a box to the unpadded image; null when its centre lies in the padding (nothing real is there). */
function clipToImage(b: Box2D, w: number, h: number): Box2D | null {
  const cx = (b[0] + b[2]) / 2;
  const cy = (b[1] + b[3]) / 2;
  if (cx < -0.5 || cy < -0.5 || cx > w - 0.5 || cy > h - 0.5) return null;
  return [Math.max(b[0], -0.5), Math.max(b[1], -0.5), Math.min(b[2], w - 0.5), Math.min(b[3], h - 0.5)];
}

/** The mask cells under the box plus a margin of two cells, copied out of the batch's output. */
function cropMask(mask: Float32Array, w: number, h: number, b: Box2D, stride: number): MaskCrop {
  const x0 = Math.max(0, Math.floor(b[0] / stride) - 2);
  const y0 = Math.max(0, Math.floor(b[1] / stride) - 2);
  const x1 = Math.min(w - 1, Math.ceil(b[2] / stride) + 2);
  const y1 = Math.min(h - 1, Math.ceil(b[3] / stride) + 2);
  const width = x1 - x0 + 1;
  const height = y1 - y0 + 1;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) data.set(mask.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + width), y * width);
  return { x0, y0, width, height, data, stride };
}
