/**
 * The model registry (docs/harvest.md#promotion-and-rollback): which detector the service loads, every model that
 * was promoted, and every promotion decision with its figures.
 *
 *   <dir>/registry.json            RegistryFile: current, history (earlier promoted, oldest first), decisions
 *   <dir>/<name>-<version>/        a copy of each promoted model (model.json + its ONNX file)
 *
 * Without a registry file, or with nothing promoted, the service loads config model.dir (the base model). A model
 * version names exactly one set of weights: jobs are keyed by it (src/pipeline/idempotency.ts), so two different
 * graphs under one version would make the second skip studies the first analysed. The registry therefore refuses a
 * candidate whose version it already knows with other weights.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LensConfig } from '../config/schema';
import { readManifest } from '../detect/load-manifest';
import { LensError } from '../errors';
import { writeAtomically } from '../harvest/dataset';
import { modelVersionOf } from '../pipeline/study-pipeline';

export const REGISTRY_FORMAT = 'lens-model-registry/1';

export class RegistryError extends LensError {
  constructor(message: string) {
    super(message, 'model-registry');
  }
}

/** The figures a promotion was decided on (src/models/promotion.ts). */
export interface GateFigures {
  /** Average sensitivity at 0.125-8 FPs per volume (docs/contracts.md#evaluation-protocol). */
  averageSensitivity: number;
  sensitivityAtFp: { fpPerVolume: number; sensitivity: number }[];
  lesions: number;
  volumes: number;
}

export interface RegistryEntry {
  /** name-version, as jobs record it (modelVersionOf). */
  version: string;
  /** Folder of the model, relative to the registry (a copy); absolute for the base model (config model.dir). */
  dir: string;
  onnxSha256: string;
  promotedAt: string;
}

export interface Decision {
  at: string;
  action: 'promoted' | 'refused' | 'rolled-back';
  candidate?: string;
  /** The model the candidate was compared with (promotions), or the one rolled back (rollbacks). */
  current: string;
  /** Promotions: the figures of both on the validation set. */
  figures?: { candidate: GateFigures; current: GateFigures; validation: string };
  /** Rollbacks: the model loaded afterwards. */
  restored?: string;
  message: string;
}

export interface RegistryFile {
  format: typeof REGISTRY_FORMAT;
  /** The promoted model the service loads; absent: config model.dir. */
  current?: RegistryEntry;
  /** Earlier promoted models, oldest first: a rollback returns to the last one (or to the base model). */
  history: RegistryEntry[];
  decisions: Decision[];
}

export interface ModelRef {
  version: string;
  dir: string;
  onnxSha256: string;
}

/** The model the registry points at: a promoted one (its version known) or the base model (config model.dir). */
export interface ModelPointer {
  /** Equal keys: the same model; a different key after a promotion, rollback or another model.dir. */
  key: string;
  dir: string;
  /** The promoted version; absent for the base model, whose version is read when it loads. */
  version?: string;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The version and weights of the model in a folder. */
export function modelRef(dir: string): ModelRef {
  const { manifest, onnxPath } = readManifest(dir);
  return { version: modelVersionOf(manifest), dir: path.resolve(dir), onnxSha256: sha256File(onnxPath) };
}

export class ModelRegistry {
  constructor(
    readonly dir: string,
    /** config model.dir: what the service loads when nothing is promoted. */
    readonly baseDir: string,
  ) {}

  static of(cfg: Pick<LensConfig, 'harvest' | 'model'>): ModelRegistry {
    return new ModelRegistry(path.resolve(cfg.harvest.registryDir), path.resolve(cfg.model.dir));
  }

  read(): RegistryFile {
    const file = path.join(this.dir, 'registry.json');
    if (!fs.existsSync(file)) return { format: REGISTRY_FORMAT, history: [], decisions: [] };
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RegistryFile;
      if (r.format !== REGISTRY_FORMAT) throw new Error(`format ${String(r.format)}, expected ${REGISTRY_FORMAT}`);
      return r;
    } catch (e) {
      throw new RegistryError(`model registry ${file} is unreadable: ${(e as Error).message}`);
    }
  }

  /** The folder of the model the service loads now. */
  currentDir(r: RegistryFile = this.read()): string {
    return r.current ? path.resolve(this.dir, r.current.dir) : this.baseDir;
  }

  /**
   * What the service should load, cheaply (the base model's weights are not hashed): a running service compares
   * `key` with the one it loaded to notice a promotion or rollback (src/worker/model-reload.ts).
   */
  pointer(r: RegistryFile = this.read()): ModelPointer {
    const dir = this.currentDir(r);
    return r.current ? { key: `${r.current.version} ${r.current.onnxSha256} ${dir}`, dir, version: r.current.version } : { key: `base ${dir}`, dir };
  }

  current(r: RegistryFile = this.read()): ModelRef {
    return r.current ? { version: r.current.version, dir: this.currentDir(r), onnxSha256: r.current.onnxSha256 } : modelRef(this.baseDir);
  }

  /**
   * Why the candidate cannot be promoted whatever its figures (undefined: it may be evaluated): its version is
   * the current one, or one the registry knows with other weights.
   */
  conflict(candidate: ModelRef, r: RegistryFile = this.read()): string | undefined {
    const current = this.current(r);
    if (candidate.version === current.version)
      return candidate.onnxSha256 === current.onnxSha256
        ? `${candidate.version} is already the current model`
        : `${candidate.version} is the current model's version but the weights differ: give the candidate a new version (jobs are keyed by model version)`;
    const known = [...r.history, ...(r.current ? [r.current] : [])].find((e) => e.version === candidate.version);
    if (known && known.onnxSha256 !== candidate.onnxSha256)
      return `${candidate.version} was promoted before with other weights: give the candidate a new version (jobs are keyed by model version)`;
    return undefined;
  }

  /** Copies the candidate into the registry and makes it the current model; the previous one goes to the history. */
  promote(candidate: ModelRef, decision: Omit<Decision, 'at' | 'action'>): RegistryEntry {
    const r = this.read();
    const rel = safeName(candidate.version);
    copyModel(candidate.dir, path.join(this.dir, rel));
    const entry: RegistryEntry = { version: candidate.version, dir: rel, onnxSha256: candidate.onnxSha256, promotedAt: new Date().toISOString() };
    if (r.current) r.history.push(r.current);
    r.current = entry;
    r.decisions.push({ at: entry.promotedAt, action: 'promoted', ...decision });
    this.write(r);
    return entry;
  }

  refuse(decision: Omit<Decision, 'at' | 'action'>): void {
    const r = this.read();
    r.decisions.push({ at: new Date().toISOString(), action: 'refused', ...decision });
    this.write(r);
  }

  /** Back to the previously promoted model, or to the base model when only one was promoted. */
  rollback(): { from: string; to: string } {
    const r = this.read();
    if (!r.current) throw new RegistryError(`nothing to roll back: no model was promoted (the service loads the base model ${this.baseDir})`);
    const from = r.current.version;
    r.current = r.history.pop();
    const to = this.current(r).version;
    r.decisions.push({ at: new Date().toISOString(), action: 'rolled-back', current: from, restored: to, message: `rolled back from ${from} to ${to}` });
    this.write(r);
    return { from, to };
  }

  private write(r: RegistryFile): void {
    fs.mkdirSync(this.dir, { recursive: true });
    writeAtomically(path.join(this.dir, 'registry.json'), Buffer.from(JSON.stringify(r, null, 1)));
  }
}

/**
 * model.json and its ONNX file into `to` (replaced whole). A proposal classifier the manifest names relative to
 * its folder is made absolute, so that the copy chains the same second stage.
 */
function copyModel(from: string, to: string): void {
  const { manifest, manifestPath, onnxPath } = readManifest(from);
  const tmp = `${to}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.copyFileSync(onnxPath, path.join(tmp, path.basename(onnxPath)));
  const raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  raw.file = path.basename(onnxPath);
  if (typeof manifest.proposalClassifier === 'string') raw.proposalClassifier = path.resolve(from, manifest.proposalClassifier);
  fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(raw, null, 2) + '\n');
  fs.rmSync(to, { recursive: true, force: true });
  fs.renameSync(tmp, to);
}

function safeName(version: string): string {
  return version.replace(/[^0-9A-Za-z.\-+_]/g, '_');
}

/** The folder of the detector the service loads: the registry's current model, else config model.dir. */
export function currentModelDir(cfg: Pick<LensConfig, 'harvest' | 'model'>): string {
  return ModelRegistry.of(cfg).currentDir();
}
