/**
 * The promotion gate (docs/harvest.md#promotion-and-rollback): a candidate detector is measured beside the current
 * model on a labeled validation set with the evaluation protocol of scripts/evaluate-model.ts (src/eval/froc.ts:
 * FROC, IoBB >= 0.3, average sensitivity at 0.125-8 FPs per volume), and promoted only when it is not worse.
 * Every decision, refused ones included, is recorded in the registry with both figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LensConfig } from '../config/schema';
import { loadDetector } from '../detect/detector';
import type { Findings, TruthStudy } from '../detect/findings';
import { loadSelectedVolume } from '../dicom/load-folder';
import type { Volume } from '../dicom/volume';
import { evaluate } from '../eval/froc';
import { loadTruthTree } from '../eval/load-tree';
import { log } from '../log';
import { modelRef, RegistryError, type GateFigures, type ModelRegistry, type ModelRef } from './registry';

/** The decode threshold of scripts/evaluate-model.ts: low enough for the FROC sweep to reach 8 FPs per volume. */
const EVAL_CANDIDATE_THRESHOLD = 0.05;

export interface ValidationStudy {
  truth: TruthStudy;
  volume: Volume;
}

/**
 * A labeled validation set: every folder under `dir` holding a truth.json (the layout of `lens synth`: the
 * study's DICOM in it or in its dicom/ sub-folder). The truth must name every lesion: the figures count misses.
 */
export async function loadValidationSet(dir: string, rules: LensConfig['selection']): Promise<ValidationStudy[]> {
  if (!fs.existsSync(dir)) throw new RegistryError(`validation set ${dir} does not exist`);
  const studyDirs = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'truth.json')))
    .map((e) => path.join(dir, e.name))
    .sort();
  if (!studyDirs.length) throw new RegistryError(`validation set ${dir} holds no study folder with a truth.json`);
  const out: ValidationStudy[] = [];
  for (const s of studyDirs) {
    const truths = loadTruthTree(path.join(s, 'truth.json'));
    const dicom = fs.existsSync(path.join(s, 'dicom')) ? path.join(s, 'dicom') : s;
    const { volume } = await loadSelectedVolume(dicom, rules);
    const truth = truths.find((t) => t.studyInstanceUID === volume.studyInstanceUID);
    if (!truth) throw new RegistryError(`${s}: truth.json names no study ${volume.studyInstanceUID} (the DICOM's)`);
    out.push({ truth, volume });
  }
  return out;
}

/** The model's figures on the validation set, as the service runs it (its chained second stage included). */
export async function measure(modelDir: string, set: readonly ValidationStudy[], cfg: LensConfig['model']): Promise<GateFigures> {
  const detector = await loadDetector(modelDir, cfg, { candidateThreshold: EVAL_CANDIDATE_THRESHOLD, scoreThreshold: 0 });
  const findings: Findings[] = [];
  try {
    for (const s of set) findings.push((await detector.detect(s.volume)).findings);
  } finally {
    await detector.dispose();
  }
  const r = evaluate(set.map((s) => s.truth), findings);
  return {
    averageSensitivity: r.averageSensitivity,
    sensitivityAtFp: r.sensitivityAtFp.map((p) => ({ fpPerVolume: p.fpPerVolume, sensitivity: p.sensitivity })),
    lesions: r.lesions,
    volumes: r.volumes,
  };
}

export interface PromotionOutcome {
  promoted: boolean;
  candidate: ModelRef;
  current: ModelRef;
  figures: { candidate: GateFigures; current: GateFigures };
  message: string;
}

/**
 * Measures candidate and current model on the validation set; promotes the candidate when its average
 * sensitivity is at least the current model's, refuses it otherwise. Both are recorded in the registry.
 * A candidate whose version conflicts with the registry is refused before any measurement (RegistryError).
 */
export async function promoteCandidate(registry: ModelRegistry, candidateDir: string, validationDir: string, cfg: LensConfig): Promise<PromotionOutcome> {
  let candidate: ModelRef;
  try {
    candidate = modelRef(candidateDir);
  } catch (e) {
    throw new RegistryError(`candidate ${candidateDir}: ${(e as Error).message.replace(/ \(config model\.dir = [^)]*\)/, '')}`);
  }
  const current = registry.current();
  const conflict = registry.conflict(candidate);
  if (conflict) throw new RegistryError(`${candidateDir}: ${conflict}`);
  const set = await loadValidationSet(validationDir, cfg.selection);
  log.info('promotion gate: measuring', { candidate: candidate.version, current: current.version, studies: set.length });
  const figures = { candidate: await measure(candidate.dir, set, cfg.model), current: await measure(current.dir, set, cfg.model) };
  const c = figures.candidate.averageSensitivity;
  const k = figures.current.averageSensitivity;
  const promoted = c >= k;
  const validation = `${path.resolve(validationDir)} (${figures.current.volumes} studies, ${figures.current.lesions} lesions)`;
  const message = promoted
    ? `promoted ${candidate.version}: average sensitivity ${c.toFixed(4)} >= ${k.toFixed(4)} of ${current.version} on ${validation}`
    : `refused ${candidate.version}: average sensitivity ${c.toFixed(4)} < ${k.toFixed(4)} of ${current.version} on ${validation}`;
  const decision = { candidate: candidate.version, current: current.version, figures: { ...figures, validation }, message };
  if (promoted) registry.promote(candidate, decision);
  else registry.refuse(decision);
  return { promoted, candidate, current, figures, message };
}
