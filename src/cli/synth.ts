import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REGIONS, parseMix, type Region, type SynthOptions } from '../synth/options';
import { generateStudyPair } from '../synth/follow-up';
import { generateStudy, type SynthStudy } from '../synth/study';
import { writeStudyRaw, writeTruth } from '../synth/write-raw';
import { UserError } from './errors';

const FORMATS = ['dicom', 'raw', 'both'] as const;

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`--${name} must be an integer ${min}-${max}, got "${v}"`);
    return n;
  };
}

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new UserError(`--${name} must be a number ${min}-${max}, got "${v}"`);
    return n;
  };
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('generate synthetic CT studies (phantom with lesions) with truth.json; study s of --seed N uses seed N*1000+s')
    .requiredOption('--out <dir>', 'output folder (one sub-folder per study)')
    .requiredOption('--seed <n>', 'base seed (non-negative integer)', int('seed', 0, 2 ** 40))
    .option('--studies <k>', 'number of studies', int('studies', 1, 100000), 1)
    .option('--format <fmt>', `output format: ${FORMATS.join(' | ')}`, 'dicom')
    .option('--slices <n>', 'slices per study (default: the whole region at the drawn thickness)', int('slices', 1, 2000))
    .option('--size <px>', 'matrix size (rows = columns)', int('size', 32, 1024), 512)
    .option('--thickness <mm>', 'slice thickness = spacing in mm (default: drawn 1-5)', num('thickness', 0.5, 10))
    .option('--spacing <mm>', 'pixel spacing in mm (default: field of view that fits the body / size)', num('spacing', 0.2, 5))
    .option('--region <r>', `body region: ${REGIONS.join(' | ')} (default: drawn)`)
    .option('--lesions <min-max>', 'lesions per study, e.g. 1-6 or 3', '1-6')
    .option('--mix <weights>', 'lesion type weights, e.g. lung_nodule=3,liver_lesion=2 (unnamed types: 0)')
    .option('--noise <hu>', 'noise standard deviation in HU (default: drawn 10-20)', num('noise', 0, 200))
    .option('--preview', 'also write preview PNGs (lung and soft-tissue window) of the key slices')
    .option('--insert-into <dicom-dir>', 'insert the lesions into this real CT series instead of a phantom (geometry options do not apply)')
    .option('--follow-up', 'also write a follow-up study of each phantom patient in <study>-fu: same anatomy rigidly shifted in the grid (truth shiftMm), new noise, every lesion grown x0.7-1.5 and moved up to 5 mm, sometimes a new one; truth pairs lesions by lesionId, studies by patientKey/timepoint; the baseline volume and DICOM are unchanged')
    .action(async (o: { out: string; seed: number; studies: number; format: string; slices?: number; size: number; thickness?: number; spacing?: number; region?: string; lesions: string; mix?: string; noise?: number; preview?: boolean; insertInto?: string; followUp?: boolean }) => {
      if (!(FORMATS as readonly string[]).includes(o.format)) throw new UserError(`--format must be one of ${FORMATS.join(', ')}, got "${o.format}"`);
      if (o.region !== undefined && !(REGIONS as readonly string[]).includes(o.region)) throw new UserError(`--region must be one of ${REGIONS.join(', ')}, got "${o.region}"`);
      const m = /^(\d+)(?:-(\d+))?$/.exec(o.lesions);
      if (!m) throw new UserError(`--lesions must look like 3 or 1-6, got "${o.lesions}"`);
      const lesions: [number, number] = [Number(m[1]), Number(m[2] ?? m[1])];
      if (lesions[0] > lesions[1] || lesions[1] > 50) throw new UserError(`--lesions range must be ascending and at most 50, got "${o.lesions}"`);
      let mix: SynthOptions['mix'] | undefined;
      if (o.mix) {
        try {
          mix = parseMix(o.mix);
        } catch (e) {
          throw new UserError(`--mix: ${(e as Error).message}`);
        }
      }
      if (o.insertInto && o.followUp) throw new UserError('--follow-up applies to phantom studies only, not with --insert-into');
      if (o.insertInto) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { runInsert } = require('./synth-insert') as typeof import('./synth-insert');
        return runInsert({ insertInto: o.insertInto, out: o.out, seed: o.seed, studies: o.studies, format: o.format as 'dicom' | 'raw' | 'both', lesions, mix, configFile: program.opts().config });
      }
      const opts: Partial<SynthOptions> = { size: o.size, slices: o.slices, thickness: o.thickness, pixelSpacing: o.spacing, region: o.region as Region | undefined, lesions, noiseSd: o.noise };
      if (mix) opts.mix = mix;
      mkdirSync(o.out, { recursive: true });
      const write = (study: SynthStudy) => {
        const dir = join(o.out, study.name);
        if (o.format === 'raw' || o.format === 'both') writeStudyRaw(study, dir);
        if (o.format === 'dicom' || o.format === 'both') {
          // Loaded lazily: the raw path (training data) needs no DICOM encoder.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { writeStudyDicom } = require('../synth/write-dicom') as typeof import('../synth/write-dicom');
          writeStudyDicom(study, join(dir, 'dicom'));
          if (o.format === 'dicom') writeTruth(study, dir); // writeStudyRaw already wrote it for 'both'
        }
        if (o.preview) {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { writePreviews } = require('../synth/render-preview') as typeof import('../synth/render-preview');
          writePreviews(study, join(dir, 'preview'));
        }
        const [c, r, k] = study.volume.dims;
        process.stdout.write(`${dir}: ${c}x${r}x${k} ${study.series.thickness} mm, ${study.truth.lesions.length} lesions (${study.truth.lesions.map((l) => l.type).join(', ')})\n`);
      };
      for (let s = 0; s < o.studies; s++) {
        const seed = o.seed * 1000 + s;
        if (!o.followUp) {
          write(generateStudy(seed, opts));
          continue;
        }
        const pair = generateStudyPair(seed, opts);
        write(pair.baseline);
        write(pair.followUp());
      }
    });
}
