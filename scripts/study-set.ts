/**
 * The studies a study-set command line names (scripts/args.ts STUDY_SET_OPTIONS): phantoms of one seed, then each
 * background with lesions inserted (its own annotated lesions, if it has a truth.json, counted as truth too).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import type { TruthLesion, TruthStudy } from '../src/detect/findings';
import { loadSelectedVolume } from '../src/dicom/load-folder';
import type { Volume } from '../src/dicom/volume';
import { insertLesions } from '../src/synth/insert-lesions';
import { generateStudy } from '../src/synth/study';
import type { StudySetArgs } from './args';

export async function forEachStudy(a: StudySetArgs, run: (name: string, volume: Volume, truth: TruthStudy) => Promise<void>): Promise<void> {
  for (let s = 0; s < a.phantoms; s++) {
    const st = generateStudy(a.phantomSeed * 1000 + s, { size: a.phantomSize });
    await run(st.name, st.volume, st.truth);
  }
  const cfg = loadConfig({});
  for (const bg of a.backgrounds) {
    const loaded = await loadSelectedVolume(bg, cfg.selection);
    const name = path.basename(path.resolve(bg));
    const truthFile = path.join(bg, 'truth.json');
    const annotated: TruthLesion[] = fs.existsSync(truthFile)
      ? (JSON.parse(fs.readFileSync(truthFile, 'utf8')).studies.find((t: TruthStudy) => t.studyInstanceUID === loaded.volume.studyInstanceUID)?.lesions ?? [])
      : [];
    for (let s = 0; s < a.inserted; s++) {
      const ins = insertLesions(loaded.volume, a.insertSeed * 1000 + s, { annotated, backgroundName: name });
      await run(ins.name, ins.volume, ins.truth);
    }
  }
}

/** One line naming the set, for tables and manifests. */
export function describeStudySet(a: StudySetArgs): string {
  const phantoms = a.phantoms ? `phantom seed ${a.phantomSeed} x ${a.phantoms} (size ${a.phantomSize})` : '';
  const inserted = a.inserted ? `inserted seed ${a.insertSeed} x ${a.inserted} into ${a.backgrounds.map((b) => path.basename(path.resolve(b))).join(', ')}` : '';
  return [phantoms, inserted].filter(Boolean).join(' + ');
}
