/**
 * `lens synth --insert-into <dicom-dir>`: synthetic lesions inserted into a real CT series (src/synth/insert-lesions.ts),
 * written like `lens synth` studies (DICOM and/or raw, truth.json). A truth.json beside the DICOM whose study UID
 * matches the selected series is read: its annotated lesions are avoided and counted in the new truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load';
import { loadSelectedVolume } from '../dicom/load-folder';
import { annotatedLesions } from '../eval/load-tree';
import { insertedDicomStudy, insertLesions, INSERT_MIX } from '../synth/insert-lesions';
import type { LesionMix } from '../synth/lesions';
import { writeStudyRaw, writeTruth } from '../synth/write-raw';
import { UserError } from './errors';

export interface InsertCliOptions {
  insertInto: string;
  out: string;
  seed: number;
  studies: number;
  format: 'dicom' | 'raw' | 'both';
  lesions: [number, number];
  mix?: LesionMix;
  configFile?: string;
}

export async function runInsert(o: InsertCliOptions): Promise<void> {
  if (!fs.existsSync(o.insertInto)) throw new UserError(`--insert-into: ${o.insertInto} does not exist`);
  const cfg = loadConfig({ file: o.configFile });
  const loaded = await loadSelectedVolume(o.insertInto, cfg.selection).catch((e: Error) => {
    throw new UserError(`--insert-into ${o.insertInto}: ${e.message}`);
  });
  const annotated = annotatedLesions(o.insertInto, loaded.volume.studyInstanceUID);
  if (annotated.length) process.stdout.write(`${o.insertInto}: ${annotated.length} annotated lesion(s) from truth.json kept in the truth and avoided\n`);
  const backgroundName = path.basename(path.resolve(o.insertInto));
  const ds = loaded.firstDataset;
  const source = { kernel: typeof ds.ConvolutionKernel === 'string' ? ds.ConvolutionKernel : undefined, thickness: Number(ds.SliceThickness) || undefined };
  fs.mkdirSync(o.out, { recursive: true });
  for (let s = 0; s < o.studies; s++) {
    const seed = o.seed * 1000 + s;
    const ins = insertLesions(loaded.volume, seed, { lesions: o.lesions, mix: o.mix ?? INSERT_MIX, annotated, backgroundName });
    const dir = path.join(o.out, ins.name);
    const study = insertedDicomStudy(ins, source);
    if (o.format !== 'dicom') writeStudyRaw({ ...study, seed, truth: ins.truth }, dir);
    if (o.format !== 'raw') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { writeStudyDicom } = require('../synth/write-dicom') as typeof import('../synth/write-dicom');
      writeStudyDicom(study, path.join(dir, 'dicom'));
      if (o.format === 'dicom') writeTruth({ seed, truth: ins.truth }, dir);
    }
    const inserted = ins.truth.lesions.filter((l) => l.origin === 'inserted');
    process.stdout.write(`${dir}: ${inserted.length} lesions inserted (${inserted.map((l) => l.type).join(', ')}), noise ${ins.truth.background.noiseSd} HU\n`);
  }
}
