/**
 * The stored form of jobs and node records, and their mapping to the job model, shared by the SQLite and
 * PostgreSQL stores (same column names; JSON columns are text in SQLite and jsonb, already parsed, in PostgreSQL).
 */
import type { Job, JobState, NodeStatus, StudyInfo } from './types';

/** A JSON column: text (SQLite) or a value already parsed by the driver (PostgreSQL jsonb). */
type JsonColumn = string | object;

export interface JobRow {
  id: number; kind: string; study_uid: string | null; payload: JsonColumn; source: string; state: string; attempts: number;
  max_attempts: number; lease_owner: string | null; lease_expires_at: number | null; next_attempt_at: number; force: number | boolean;
  last_error: string | null; reason: string | null; idempotency_key: string | null; series_uid: string | null;
  model_version: string | null; outputs: JsonColumn | null; lesion_count: number | null; lesions: JsonColumn | null;
  timings: JsonColumn | null; received_at: number; created_at: number; updated_at: number; finished_at: number | null;
  stage: string | null; death_count: number; deaths: JsonColumn; pacs_faults: JsonColumn;
  /** Migration 5 (SQLite); absent in a store without it. */
  retrying_since?: number | null;
  /** Migration 6 (SQLite), 3 (PostgreSQL): StudyInfo as JSON, and its accession number for the search. */
  study_info?: JsonColumn | null;
  accession_number?: string | null;
}

export interface NodeRow {
  node: string; host: string; started_at: number; seen_at: number; concurrency: number; gpus: number; devices: JsonColumn; roles: JsonColumn; running_jobs: number;
  model: string; model_error: string | null;
}

const json = <T>(v: JsonColumn): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export function toJob(r: JobRow): Job {
  const fields = {
    id: r.id,
    payload: json<Record<string, unknown>>(r.payload),
    source: r.source as Job['source'],
    state: r.state as JobState,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    leaseOwner: r.lease_owner ?? undefined,
    leaseExpiresAt: r.lease_expires_at ?? undefined,
    nextAttemptAt: r.next_attempt_at,
    force: r.force === 1 || r.force === true,
    lastError: r.last_error ?? undefined,
    reason: r.reason ?? undefined,
    idempotencyKey: r.idempotency_key ?? undefined,
    seriesInstanceUID: r.series_uid ?? undefined,
    modelVersion: r.model_version ?? undefined,
    outputs: r.outputs ? json<Job['outputs']>(r.outputs) : undefined,
    lesionCount: r.lesion_count ?? undefined,
    lesions: r.lesions ? json<Job['lesions']>(r.lesions) : undefined,
    timingsMs: r.timings ? json<Job['timingsMs']>(r.timings) : undefined,
    receivedAt: r.received_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at ?? undefined,
    stage: r.stage ?? undefined,
    deaths: json<Record<string, number>>(r.deaths),
    pacsFaults: json<Record<string, number>>(r.pacs_faults),
    retryingSince: r.retrying_since ?? undefined,
    study: r.study_info ? json<StudyInfo>(r.study_info) : undefined,
  };
  if (r.kind === 'study-analysis') return { ...fields, kind: 'study-analysis', studyInstanceUID: r.study_uid! };
  if (r.kind === 'harvest-run') return { ...fields, kind: 'harvest-run' };
  throw new Error(`job ${r.id} has an unknown kind ${JSON.stringify(r.kind)}`);
}

export function toNodeStatus(r: NodeRow): NodeStatus {
  return {
    node: r.node, host: r.host, startedAt: r.started_at, seenAt: r.seen_at, concurrency: r.concurrency, gpus: r.gpus,
    devices: json<string[]>(r.devices), roles: json<string[]>(r.roles), runningJobs: r.running_jobs,
    ...(r.model ? { model: r.model } : {}), ...(r.model_error ? { modelError: r.model_error } : {}),
  };
}
