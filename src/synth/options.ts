import type { LesionType } from '../detect/findings';
import { DEFAULT_MIX, type LesionMix } from './lesions';

export const REGIONS = ['chest', 'abdomen', 'chest-abdomen'] as const;
export type Region = (typeof REGIONS)[number];

/** What a study may vary; anything left out is drawn from the seed. */
export interface SynthOptions {
  /** Matrix (rows = columns); 512 for realistic studies, 128-256 for fast training data. */
  size: number;
  /** Number of slices; by default the whole region at the drawn thickness. */
  slices?: number;
  /** Slice thickness = spacing in mm (1-5 drawn by default). */
  thickness?: number;
  /** In-plane pixel spacing in mm (by default the field of view that fits the body, over `size`). */
  pixelSpacing?: number;
  region?: Region;
  /** Number of lesions [min, max] drawn uniformly. */
  lesions: [number, number];
  mix: LesionMix;
  /** Noise standard deviation in HU (by default 10-20, less for thick slices). */
  noiseSd?: number;
  /** DICOM instance order: 'descending' numbers instances from the top slice down; by default drawn. */
  instanceOrder?: 'ascending' | 'descending';
}

export const DEFAULT_OPTIONS: SynthOptions = { size: 512, lesions: [1, 6], mix: { ...DEFAULT_MIX } };

/** Parses "lung_nodule=3,liver_lesion=1" into a full mix (unnamed types get 0). */
export function parseMix(text: string): LesionMix {
  const mix = Object.fromEntries(Object.keys(DEFAULT_MIX).map((k) => [k, 0])) as LesionMix;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!(k in mix)) throw new Error(`unknown lesion type "${k}" in mix (known: ${Object.keys(mix).join(', ')})`);
    const w = v === undefined ? 1 : Number(v);
    if (!Number.isFinite(w) || w < 0) throw new Error(`weight of ${k} must be a number >= 0, got "${v}"`);
    mix[k as LesionType] = w;
  }
  if (Object.values(mix).every((w) => w === 0)) throw new Error('lesion mix gives every type weight 0');
  return mix;
}
