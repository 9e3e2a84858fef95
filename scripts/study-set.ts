/**
 * The studies a study-set command line names (scripts/args.ts STUDY_SET_OPTIONS): phantoms of one seed, then each
 * background with lesions inserted (its own annotated lesions, if it has a truth.json, counted as truth too).
 */
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import type { TruthStudy } from '../src/detect/findings';
import { loadSelectedVolume } from '../src/dicom/load-folder';
import { annotatedLesions } from '../src/eval/load-tree';
import type { Volume } from '../src/dicom/volume';
import { insertLesions } from '../src/synth/insert-lesions';
import { generateStudy } from '../src/synth/study';
import type { StudySetArgs } from './args';

/** Where a study of the set came from: a phantom, or lesions inserted into a real background; seed = its study seed. */
export type StudyOrigin = { kind: 'phantom'; seed: number } | { kind: 'inserted'; background: string; seed: number };

export async function forEachStudy(
  a: Pick<StudySetArgs, 'phantomSeed' | 'phantoms' | 'phantomSize' | 'backgrounds' | 'insertSeed' | 'inserted'>,
  run: (name: string, volume: Volume, truth: TruthStudy, origin: StudyOrigin) => Promise<void>,
): Promise<void> {
  for (let s = 0; s < a.phantoms; s++) {
    const seed = a.phantomSeed * 1000 + s;
    const st = generateStudy(seed, { size: a.phantomSize });
    await run(st.name, st.volume, st.truth, { kind: 'phantom', seed });
  }
  const cfg = loadConfig({});
  for (const bg of a.backgrounds) {
    const loaded = await loadSelectedVolume(bg, cfg.selection);
    const name = path.basename(path.resolve(bg));
    const annotated = annotatedLesions(bg, loaded.volume.studyInstanceUID);
    for (let s = 0; s < a.inserted; s++) {
      const seed = a.insertSeed * 1000 + s;
      const ins = insertLesions(loaded.volume, seed, { annotated, backgroundName: name });
      await run(ins.name, ins.volume, ins.truth, { kind: 'inserted', background: name, seed });
    }
  }
}

/** One line naming the set, for tables and manifests. */
export function describeStudySet(a: StudySetArgs): string {
  const phantoms = a.phantoms ? `phantom seed ${a.phantomSeed} x ${a.phantoms} (size ${a.phantomSize})` : '';
  const inserted = a.inserted ? `inserted seed ${a.insertSeed} x ${a.inserted} into ${a.backgrounds.map((b) => path.basename(path.resolve(b))).join(', ')}` : '';
  return [phantoms, inserted].filter(Boolean).join(' + ');
}
