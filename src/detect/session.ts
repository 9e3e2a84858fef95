/**
 * The onnxruntime session: execution providers tried in the configured order (CUDA only works where its binaries
 * were installed; creation fails otherwise and the next provider is tried), then the graph checked against the
 * manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LensConfig } from '../config/schema';
import { log } from '../log';
import { checkManifestAgainstGraph, ModelError, type GraphValue } from './load-manifest';
import type { ModelManifest } from './manifest';

export type ProviderName = LensConfig['model']['executionProviders'][number];

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ProviderName;
  /** Why each provider tried before the chosen one was not used. */
  skipped: { provider: ProviderName; reason: string }[];
}

/** cudaDeviceId: the GPU of this process (src/worker/gpu-devices.ts); onnxruntime's default (0) when absent. */
export async function createSession(onnxPath: string, cfg: Pick<LensConfig['model'], 'executionProviders' | 'threads'> & { cudaDeviceId?: number }): Promise<OpenedSession> {
  const providers = cfg.executionProviders.length ? cfg.executionProviders : (['cpu'] as ProviderName[]);
  const skipped: OpenedSession['skipped'] = [];
  for (const provider of providers) {
    try {
      const ep = provider === 'cuda' && cfg.cudaDeviceId !== undefined ? { name: 'cuda' as const, deviceId: cfg.cudaDeviceId } : provider;
      const options: ort.InferenceSession.SessionOptions = { executionProviders: [ep], interOpNumThreads: 1, graphOptimizationLevel: 'all' };
      const missing = provider === 'cuda' ? missingCudaLibrary() : undefined;
      if (missing) throw new Error(`onnxruntime-node's CUDA binaries are not installed (${missing} missing; install with --onnxruntime-node-install=cuda12)`);
      // Unset (0) lets onnxruntime pick one thread per core.
      if (cfg.threads > 0) options.intraOpNumThreads = cfg.threads;
      const session = await ort.InferenceSession.create(onnxPath, options);
      return { session, provider, skipped };
    } catch (e) {
      const reason = firstLine((e as Error).message);
      skipped.push({ provider, reason });
      log.warn('execution provider unavailable', { provider, reason });
    }
  }
  throw new ModelError(`no execution provider could load ${onnxPath}: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`);
}

export function graphOf(session: ort.InferenceSession): { inputs: GraphValue[]; outputs: GraphValue[] } {
  const meta = (names: readonly string[], md: readonly ort.InferenceSession.ValueMetadata[] | undefined): GraphValue[] =>
    names.map((name) => {
      const m = md?.find((x) => x.name === name);
      return { name, shape: m && m.isTensor ? (m.shape as (number | string)[]) : undefined };
    });
  return { inputs: meta(session.inputNames, session.inputMetadata), outputs: meta(session.outputNames, session.outputMetadata) };
}

/** Throws a ModelError naming every mismatch between manifest and graph. */
export function assertGraphMatches(manifest: ModelManifest, session: ort.InferenceSession, where: string): void {
  const problems = checkManifestAgainstGraph(manifest, graphOf(session));
  if (problems.length) throw new ModelError(`model ${where} does not match its manifest:\n  ${problems.join('\n  ')}`);
}

/**
 * The CUDA provider library beside onnxruntime-node's binding, when it is absent (checked first, so that a machine
 * without it gets one clear reason instead of onnxruntime's native error on stderr).
 */
function missingCudaLibrary(): string | undefined {
  try {
    const binDir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    const lib = path.join(binDir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
    return fs.existsSync(lib) ? undefined : lib;
  } catch {
    return undefined; // unknown layout: let onnxruntime try
  }
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 300);
}
