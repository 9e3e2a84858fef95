import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TruthFile, TruthStudy } from '../detect/findings';
import type { Volume } from '../dicom/volume';
import type { SynthStudy } from './study';

export const TRUTH_BOX_CONVENTION = 'patient LPS mm [xmin,ymin,zmin,xmax,ymax,zmax] of the voxels a lesion covers (voxel edges: +-half a pixel in plane, +-half a slice along z)';

/** truth.json of one study (the shape of shared/data/ct/lung-dx-a0001/truth.json). */
export function truthFile(study: { seed: number; truth: TruthStudy }): TruthFile {
  return { source: `lens-pacs synth seed ${study.seed}`, boxConvention: TRUTH_BOX_CONVENTION, studies: [study.truth] };
}

export function writeTruth(study: { seed: number; truth: TruthStudy }, dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'truth.json'), JSON.stringify(truthFile(study), null, 1) + '\n');
}

/**
 * volume.i16 (Int16 little-endian HU, index k*rows*cols + j*cols + i as Volume.data) and volume.json (geometry),
 * plus truth.json: the fast format for training.
 */
export function writeStudyRaw(study: Pick<SynthStudy, 'volume' | 'seed' | 'series'> & { truth: TruthStudy }, dir: string): void {
  writeVolumeRaw(study.volume, dir, { seed: study.seed, thickness: study.series.thickness, region: study.series.region });
  writeTruth(study, dir);
}

/** volume.i16 and volume.json of any volume (also the harvest's training sets, src/harvest/training-set.ts). */
export function writeVolumeRaw(v: Volume, dir: string, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const bytes = Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported');
  writeFileSync(join(dir, 'volume.i16'), bytes);
  const meta = {
    dims: v.dims,
    spacing: v.spacing,
    origin: v.origin,
    direction: v.direction,
    dtype: 'int16le',
    studyInstanceUID: v.studyInstanceUID,
    seriesInstanceUID: v.seriesInstanceUID,
    sopInstanceUIDs: v.slices.map((s) => s.sopInstanceUID),
    ...extra,
  };
  writeFileSync(join(dir, 'volume.json'), JSON.stringify(meta) + '\n');
}
