/** findings.json (docs/contracts.md#findings): one per analysed study, coordinates in patient LPS millimetres. */

export const LESION_TYPES = ['lung_nodule', 'liver_lesion', 'kidney_cyst', 'lymph_node', 'bone_lesion', 'soft_tissue'] as const;
export type LesionType = (typeof LESION_TYPES)[number];

/** [xmin, ymin, zmin, xmax, ymax, zmax] in patient LPS mm. */
export type BoxLPS = [number, number, number, number, number, number];

export interface Lesion {
  /** 1-based, in descending score order. */
  id: number;
  /** Links the SR measurement group and the SEG segment (docs/contracts.md#dicom-output). */
  trackingUid: string;
  /** A lesion type, or 'lesion' when the model does not say. */
  type: LesionType | 'lesion';
  score: number;
  bboxLPS: BoxLPS;
  /** The slice where the lesion is largest; box in pixels [x1, y1, x2, y2] of that source image. */
  keySlice: { sopInstanceUID: string; frameNumber?: number; box: [number, number, number, number] };
  longAxisMm: number;
  shortAxisMm: number;
  volumeMm3?: number;
  /** Scores by head, for models with several dataset-specific heads. */
  heads?: Record<string, number>;
}

export interface Findings {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  model: { name: string; version: string; executionProvider: string };
  lesions: Lesion[];
  timingsMs: Record<string, number>;
}

/** truth.json written by `lens synth`, in the shape of shared/data/ct/lung-dx-a0001/truth.json. */
export interface TruthLesion {
  type: LesionType | string;
  /** Patient LPS mm, as findings.json. */
  bboxLPS: BoxLPS;
  /** Whether each simulated dataset labels this lesion (partial labels, docs/contracts.md#synthetic-benchmark). */
  labeled?: Record<string, boolean>;
  [extra: string]: unknown;
}

export interface TruthStudy {
  studyInstanceUID: string;
  seriesInstanceUIDs: string[];
  lesions: TruthLesion[];
  [extra: string]: unknown;
}

export interface TruthFile {
  source: string;
  boxConvention: string;
  studies: TruthStudy[];
}
