/** Reads the truth.json and findings.json files of a folder tree for `lens eval`. */
import fs from 'node:fs';
import path from 'node:path';
import type { Findings, TruthFile, TruthLesion, TruthStudy } from '../detect/findings';
import { LensError } from '../errors';

export class EvalInputError extends LensError {
  constructor(message: string) {
    super(message, 'eval-input-invalid');
  }
}

/** Every file named `name` under dir (recursively; symlinked folders are not followed). */
export function findFiles(dir: string, name: string): string[] {
  if (!fs.existsSync(dir)) throw new EvalInputError(`${dir} does not exist`);
  if (fs.statSync(dir).isFile()) return path.basename(dir) === name ? [dir] : [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name === name) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EvalInputError(`${file}: ${(e as Error).message}`);
  }
}

/** Lesions of a study folder's own truth.json (e.g. lung-dx-a0001's tumour) for this study, else none. */
export function annotatedLesions(dir: string, studyInstanceUID: string): TruthLesion[] {
  const file = path.join(dir, 'truth.json');
  if (!fs.existsSync(file)) return [];
  return (readJson(file) as TruthFile).studies.find((s) => s.studyInstanceUID === studyInstanceUID)?.lesions ?? [];
}

const isBox = (b: unknown) => Array.isArray(b) && b.length === 6 && b.every((v) => typeof v === 'number' && Number.isFinite(v));

export function loadTruthTree(dir: string): TruthStudy[] {
  const files = findFiles(dir, 'truth.json');
  if (!files.length) throw new EvalInputError(`no truth.json under ${dir}`);
  return files.flatMap((file) => {
    const t = readJson(file) as TruthFile;
    if (!t || !Array.isArray(t.studies)) throw new EvalInputError(`${file}: no "studies" array (expected the TruthFile shape)`);
    t.studies.forEach((s, i) => {
      if (typeof s.studyInstanceUID !== 'string') throw new EvalInputError(`${file}: studies[${i}].studyInstanceUID missing`);
      (s.lesions ?? []).forEach((l, j) => {
        if (!isBox(l.bboxLPS)) throw new EvalInputError(`${file}: studies[${i}].lesions[${j}].bboxLPS is not 6 numbers`);
      });
      s.lesions ??= [];
    });
    return t.studies;
  });
}

export function loadFindingsTree(dir: string): Findings[] {
  const files = findFiles(dir, 'findings.json');
  if (!files.length) throw new EvalInputError(`no findings.json under ${dir}`);
  return files.map((file) => {
    const f = readJson(file) as Findings;
    if (!f || typeof f.studyInstanceUID !== 'string' || !Array.isArray(f.lesions))
      throw new EvalInputError(`${file}: not a findings.json (needs studyInstanceUID and lesions)`);
    f.lesions.forEach((l, j) => {
      if (!isBox(l.bboxLPS) || typeof l.score !== 'number') throw new EvalInputError(`${file}: lesions[${j}] needs bboxLPS (6 numbers) and score`);
    });
    return f;
  });
}
