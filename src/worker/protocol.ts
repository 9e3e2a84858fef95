/**
 * The messages between the service and a study's analysis process (analysis-child.ts), over Node's IPC channel
 * (JSON). The service keeps the lease, the job store and the journey; the child asks for what it needs of them
 * (calls) and reports its outcome. Any message is also a sign of life for the service's stall watchdog.
 */
import type { LensConfig } from '../config/schema';
import type { JobCompletion, JourneyEventName, StudyInfo } from '../jobs/types';
import type { StudyJobRef } from '../pipeline/run-job';
import type { WorkerDevice } from './gpu-devices';

/** What the service asks of the child. */
export type ToChild =
  /** modelDir: the model folder to load, chosen by the service (the registry's current model when it forked the child). */
  | { type: 'init'; config: LensConfig; device?: WorkerDevice; modelDir: string }
  | { type: 'run'; job: StudyJobRef }
  | { type: 'reply'; id: number; value?: unknown; error?: { message: string; reason: string; transient: boolean; leaseLost: boolean } };

/** The store operations a child calls through the service. */
export type ChildCall =
  | { method: 'enterStage'; stage: string }
  | { method: 'journal'; event: JourneyEventName; details?: Record<string, unknown> }
  | { method: 'recordStudy'; study: StudyInfo }
  | { method: 'findSucceeded'; key: string }
  | { method: 'succeededForStudy'; studyInstanceUID: string };

/** What the model the child loaded reports, for readiness and the start log. */
export interface LoadedModel {
  manifest: { name: string; version: string };
  executionProvider: string;
  /** Where it runs: 'cuda:<device>' or the provider (deviceLabel). */
  device?: string;
}

export type FromChild =
  | { type: 'ready'; model: LoadedModel }
  | { type: 'init-failed'; message: string }
  | { type: 'alive' }
  | { type: 'call'; id: number; call: ChildCall }
  | { type: 'done'; jobId: number; result: JobCompletion }
  | { type: 'lease-lost'; jobId: number; message: string };

/** How often a child says it is alive: its event loop turns (a blocked one is what the watchdog catches). */
export const ALIVE_EVERY_MS = 1000;
