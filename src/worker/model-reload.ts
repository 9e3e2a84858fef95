/**
 * Promotion and rollback without a restart (docs/harvest.md#promotion-and-rollback). `lens serve` reads the model
 * registry every harvest.registryCheckSeconds (one small JSON file; change notifications are unreliable on the
 * network filesystems a registry shared by several nodes lives on) and, when it points at another model than the
 * one the analysis pool loaded, switches the pool to it (analysis-pool.ts): jobs dispatched after the switch are
 * analysed by the new model, running ones finish with theirs. A model that fails to load (or an unreadable
 * registry) leaves the loaded one in place: an error in the log and in status() (/readyz's model check); the same
 * target is tried again only after RETRY_FAILED_MS, or at once when the registry points elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { log } from '../log';
import type { ModelPointer, ModelRegistry } from '../models/registry';
import { modelVersionOf } from '../pipeline/study-pipeline';
import type { LoadedModel } from './protocol';

/** A model that failed to load is not retried for this long (each try starts jobs.concurrency processes). */
export const RETRY_FAILED_MS = 10 * 60 * 1000;

export interface SwitchablePool {
  readonly model: LoadedModel;
  switchModel(modelDir: string): Promise<LoadedModel>;
}

export interface ModelReloadError {
  /** The model the registry points at (version, or the base model's folder), or 'registry' when it is unreadable. */
  target: string;
  message: string;
  at: number;
}

export interface ModelReloadStatus {
  /** name-version of the loaded model, as jobs and reports name it. */
  version: string;
  /** When the loaded model was loaded (the service's start, or the last switch). */
  since: number;
  /** Why the registry's current model is not the loaded one; absent when it is. */
  error?: ModelReloadError;
}

export interface ModelReloaderOptions {
  registry: Pick<ModelRegistry, 'pointer' | 'dir'>;
  pool: SwitchablePool;
  /** What the pool loaded at start (the registry's pointer read before it). */
  loaded: ModelPointer;
  everyMs: number;
  /** Called after a switch, a failure and its end (the node record is written at once: node-status.ts). */
  onChange?(): void;
  now?: () => number;
}

export class ModelReloader {
  private loadedKey: string;
  /** Whether the loaded model is a promoted one (not the base model). */
  private loadedPromoted: boolean;
  private since: number;
  private failed?: { key: string; at: number };
  private error?: ModelReloadError;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private running = false;
  private readonly now: () => number;

  constructor(private readonly o: ModelReloaderOptions) {
    this.now = o.now ?? Date.now;
    this.loadedKey = o.loaded.key;
    this.loadedPromoted = o.loaded.version !== undefined;
    this.since = this.now();
  }

  start(): void {
    if (!(this.o.everyMs > 0)) return;
    this.running = true;
    const tick = () => {
      this.checking = this.check().finally(() => {
        this.checking = undefined;
        if (this.running) this.timer = setTimeout(tick, this.o.everyMs);
      });
    };
    this.timer = setTimeout(tick, this.o.everyMs);
  }

  /** No further check; a switch in progress is awaited (the pool's stop ends its children). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.checking;
  }

  status(): ModelReloadStatus {
    return { version: modelVersionOf(this.o.pool.model.manifest), since: this.since, ...(this.error ? { error: this.error } : {}) };
  }

  /** Reads the registry once; switches the pool when it points at another model. Never throws. */
  async check(): Promise<void> {
    let target: ModelPointer;
    try {
      target = this.o.registry.pointer();
    } catch (e) {
      return this.fail('registry', (e as Error).message, { keeping: this.status().version });
    }
    if (target.key === this.loadedKey) {
      if (this.error) {
        log.info('model registry points at the loaded model again', { model: this.status().version });
        this.error = undefined;
        this.o.onChange?.();
      }
      this.failed = undefined;
      return;
    }
    // No registry file reads as "nothing promoted": after a promoted model, that is a folder gone (an unmounted
    // share) far more often than an intent; a rollback writes the file and does switch to the base model.
    const file = path.join(this.o.registry.dir, 'registry.json');
    if (this.loadedPromoted && !target.version && !fs.existsSync(file))
      return this.fail('registry', `${file} is gone (the shared folder not mounted?); lens model rollback returns to the base model`, { keeping: this.status().version });
    const name = target.version ?? `base model ${target.dir}`;
    if (this.failed?.key === target.key && this.now() - this.failed.at < RETRY_FAILED_MS) return;
    const from = this.status().version;
    log.info('model registry changed: loading the new model beside the current one', { from, to: name, dir: target.dir });
    const t0 = this.now();
    try {
      const loaded = await this.o.pool.switchModel(target.dir);
      this.loadedKey = target.key;
      this.loadedPromoted = target.version !== undefined;
      this.since = this.now();
      this.failed = undefined;
      this.error = undefined;
      log.info('model switched: new studies are analysed by the new model', {
        from, to: modelVersionOf(loaded.manifest), dir: target.dir, executionProvider: loaded.executionProvider, loadMs: this.now() - t0,
      });
      this.o.onChange?.();
    } catch (e) {
      this.failed = { key: target.key, at: this.now() };
      this.fail(name, (e as Error).message, { dir: target.dir, keeping: from, retryInMinutes: RETRY_FAILED_MS / 60000 });
    }
  }

  private fail(target: string, message: string, details: Record<string, unknown>): void {
    // An unreadable registry is seen at every check: logged (and dated) once per distinct failure. A load is tried
    // again only after RETRY_FAILED_MS: each failure is logged.
    const repeated = this.error?.target === target && this.error.message === message;
    if (repeated && target === 'registry') return;
    log.error('model switch failed: the loaded model stays in use', { target, error: message, ...details });
    this.error = { target, message, at: this.now() };
    if (!repeated) this.o.onChange?.();
  }
}

/** The model line of /readyz: the loaded model, where it runs, and a failed switch when there is one. */
export function describeModel(model: LoadedModel, devices: readonly string[], status: ModelReloadStatus): string {
  const loaded = `${model.manifest.name} ${model.manifest.version} (${model.executionProvider}; workers on ${devices.join(', ')})`;
  return status.error ? `${loaded}; ${describeReloadError(status.error)}` : loaded;
}

/** A failed switch in words, with what the operator can do (/readyz, the node records). */
export function describeReloadError(e: ModelReloadError): string {
  const what = e.target === 'registry' ? 'the model registry cannot be read' : `the registry's current model ${e.target} is not loaded`;
  return `${what}: ${e.message} (at ${new Date(e.at).toISOString()}; lens model rollback, or promote a working model)`;
}
