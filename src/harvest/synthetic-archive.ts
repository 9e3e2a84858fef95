/**
 * A synthetic archive for the harvest (integration test, bench/harvest-precision.ts): `lens synth` studies, each
 * with a simulated reader's TID 1500 SR (simulated-reader.ts, OHIF's structure) holding the lesions the
 * DeepLesion-like partial labels mark (`labeled.deeplesion`, about 40 %), drawn as readers draw them (RECIST
 * line, bidirectional, ellipse, rectangle, in turn). Every `completeEvery`-th study is completely annotated: its SR
 * holds every lesion and says "All lesions annotated". The generator's truth (every lesion) stays beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Box2D } from '../detect/box2d';
import type { SynthOptions } from '../synth/options';
import { CT_IMAGE_STORAGE, generateStudy, type SynthTruthLesion, type SynthTruthStudy } from '../synth/study';
import { sliceDataset, writeStudyDicom } from '../synth/write-dicom';
import { writeTruth } from '../synth/write-raw';
import { deriveUid } from '../dicom/uid';
import { readerSrPart10, type ReaderMark } from './simulated-reader';

export interface SyntheticStudy {
  dir: string;
  /** DICOM files of the study: the CT slices and the reader's SR (when it has labels). */
  files: string[];
  truth: SynthTruthStudy;
  /** Indices (into truth.lesions) of the lesions the reader's SR holds. */
  labeled: number[];
  complete: boolean;
}

export interface SyntheticArchiveOptions {
  seed: number;
  studies: number;
  /** Every n-th study (0, n, 2n, ...) is completely annotated; 0: none. */
  completeEvery: number;
  synth: Partial<SynthOptions>;
}

const KINDS = ['length', 'bidirectional', 'ellipse', 'rectangle'] as const;

/** How a reader would draw a lesion whose key-slice box (inclusive pixel indices) is b. */
export function readerMark(kind: (typeof KINDS)[number], l: SynthTruthLesion): ReaderMark {
  const image = { sopClassUID: CT_IMAGE_STORAGE, sopInstanceUID: l.keySlice.sopInstanceUID };
  const [x1, y1, x2, y2] = l.keySliceBoxPx;
  const box: Box2D = [x1, y1, x2, y2];
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  switch (kind) {
    case 'length': {
      // The RECIST long axis: along the longer side of the box, through its centre.
      const horizontal = x2 - x1 >= y2 - y1;
      return horizontal ? { kind, image, from: [x1, cy], to: [x2, cy] } : { kind, image, from: [cx, y1], to: [cx, y2] };
    }
    case 'bidirectional':
      return { kind, image, long: [[x1, cy], [x2, cy]], short: [[cx, y1], [cx, y2]] };
    case 'ellipse':
    case 'rectangle':
      return { kind, image, box };
  }
}

export function writeSyntheticArchive(dir: string, o: SyntheticArchiveOptions): SyntheticStudy[] {
  const out: SyntheticStudy[] = [];
  for (let s = 0; s < o.studies; s++) {
    const study = generateStudy(o.seed * 1000 + s, o.synth);
    const studyDir = path.join(dir, study.name);
    const files = writeStudyDicom(study, path.join(studyDir, 'dicom'));
    writeTruth(study, studyDir);
    const complete = o.completeEvery > 0 && s % o.completeEvery === 0;
    const labeled = study.truth.lesions.map((l, i) => (complete || l.labeled.deeplesion ? i : -1)).filter((i) => i >= 0);
    if (labeled.length || complete) {
      const sr = readerSrPart10({
        source: sliceDataset(study, 0),
        seriesInstanceUID: deriveUid('reader sr series', study.truth.studyInstanceUID),
        sopInstanceUID: deriveUid('reader sr', study.truth.studyInstanceUID),
        marks: labeled.map((i, n) => readerMark(KINDS[(s + n) % KINDS.length], study.truth.lesions[i])),
        complete,
      });
      const f = path.join(studyDir, 'dicom', 'SR0001.dcm');
      fs.writeFileSync(f, sr);
      files.push(f);
    }
    out.push({ dir: studyDir, files, truth: study.truth, labeled, complete });
  }
  return out;
}
