/**
 * Which device each analysis process runs its model on (node.gpus): with N GPUs and the CUDA provider configured,
 * analysis process i uses CUDA device i mod N, so that jobs.concurrency processes spread over the node's GPUs
 * instead of all loading device 0; with 0 GPUs the CUDA provider is not tried at all (CPU).
 */
import type { ProviderName } from '../detect/session';

export interface WorkerDevice {
  executionProviders: ProviderName[];
  /** The CUDA device of this process (onnxruntime's CUDA provider deviceId), when it may use CUDA. */
  cudaDeviceId?: number;
}

export function workerDevice(workerIndex: number, gpus: number, providers: readonly ProviderName[]): WorkerDevice {
  if (!Number.isInteger(workerIndex) || workerIndex < 0) throw new RangeError(`worker index ${workerIndex} is not a non-negative integer`);
  if (!Number.isInteger(gpus) || gpus < 0) throw new RangeError(`node.gpus ${gpus} is not a non-negative integer`);
  if (gpus === 0) {
    const cpuOnly = providers.filter((p) => p !== 'cuda');
    return { executionProviders: cpuOnly.length ? cpuOnly : ['cpu'] };
  }
  if (!providers.includes('cuda')) return { executionProviders: [...providers] };
  return { executionProviders: [...providers], cudaDeviceId: workerIndex % gpus };
}

/** How a loaded process names where its model runs (logs, readiness): 'cuda:1', 'cpu'. */
export function deviceLabel(provider: string, cudaDeviceId: number | undefined): string {
  return provider === 'cuda' ? `cuda:${cudaDeviceId ?? 0}` : provider;
}
