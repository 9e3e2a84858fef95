/**
 * The model manifest (models/<name>/model.json, docs/contracts.md#model-manifest): everything the runtime needs to
 * feed and read a network, so that another detector can be dropped in without code changes.
 */
import type { LesionType } from './findings';
import type { TestTimeAugmentation } from './test-time-augmentation';

export interface ModelManifest {
  name: string;
  version: string;
  /** ONNX file, relative to the manifest. */
  file: string;
  description?: string;
  input: {
    /** Name of the graph input; shape [N, slices, H, W], float32. */
    name: string;
    /** 2k+1 neighbouring slices as channels. */
    slices: number;
    /** Distance between neighbouring input slices in mm (the volume is interpolated along the normal). */
    sliceIntervalMm: number;
    /** Distance between slices that are analysed (each gets its own stack); defaults to sliceIntervalMm. */
    sliceStrideMm?: number;
    /** In-plane pixel spacing the network expects, mm. */
    pixelSpacingMm: number;
    /** HU window [low, high] mapped linearly to [0, 1] (clipped). */
    huWindow: [number, number];
    /** H and W of the input are padded to a multiple of this. */
    sizeMultiple: number;
  };
  output: CenterNetOutput;
  /** The lesion types the model knows, in heatmap channel order where a head has one channel per type. */
  lesionTypes: LesionType[];
  training?: Record<string, unknown>;
  evaluation?: Record<string, unknown>;
  /** Folder of the proposal classifier (second stage, proposal-classifier.ts) chained after this model, relative to the manifest. */
  proposalClassifier?: string;
}

/** CenterNet-style: per head a heatmap (one channel per class), box size and centre offset maps at a stride. */
export interface CenterNetOutput {
  format: 'centernet';
  /** Down-sampling factor between input pixels and output cells. */
  stride: number;
  heads: CenterNetHead[];
  /** Optional per-pixel lesion probability map (graph output name), same stride, 1 channel. */
  mask?: string;
  /**
   * The reported operating point: lesions whose final (3D) score is below it are not reported. Chosen on a
   * validation seed; config `model.scoreThreshold` and `lens detect --threshold` override it.
   */
  lesionScoreThreshold?: number;
  /**
   * How the heads' detections on a slice are merged (fuse.ts): weighted box fusion of detections overlapping by at
   * least iouThreshold. Absent: 0.55. Recorded by the multi-dataset (LENS) models, whose heads are fused.
   * `calibration` (per head, optional): Platt scaling sigmoid(a logit(s) + b) of the head's scores before fusion,
   * fitted on validation (models/training/calibrate_heads.py), so that the fused score compares heads on one scale.
   */
  fusion?: { method: 'weighted-box-fusion'; iouThreshold: number; calibration?: Record<string, HeadCalibration> };
  /**
   * Extra passes over mirrored / slice-reversed copies of each batch, averaged with the plain pass (each costs one
   * more forward pass). Chosen together with lesionScoreThreshold on a validation seed, since it changes the scores.
   */
  testTimeAugmentation?: TestTimeAugmentation[];
}

export interface CenterNetHead {
  /** E.g. 'universal', or a dataset name ('deeplesion', 'luna', 'lits', 'nihln') in the multi-dataset model. */
  name: string;
  /** Graph output names. heatmap: [N, C, H/s, W/s] after sigmoid; size: [N, 2, ..] (w, h in input pixels); offset: [N, 2, ..]. */
  heatmap: string;
  size: string;
  offset: string;
  /** Lesion type of each heatmap channel. */
  classes: LesionType[];
  /** Candidate threshold for 2D heatmap peaks of this head; lesions are then scored and cut in 3D. */
  scoreThreshold: number;
}

/** Platt scaling of one head's scores (fuse.ts calibratedScore). */
export interface HeadCalibration {
  a: number;
  b: number;
}
