/**
 * The job model of the service (mercure-style): one job per study event, its state, and a journey of events.
 * Kept free of storage details so that a distributed queue can implement JobStore later.
 */

export const JOB_STATES = ['queued', 'running', 'succeeded', 'skipped', 'failed', 'failed-retrying', 'dead'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States in which a job still has work to do; a second event for the same study joins such a job. */
export const ACTIVE_STATES: readonly JobState[] = ['queued', 'running', 'failed-retrying'];
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'skipped', 'failed', 'dead'];

export const JOB_SOURCES = ['webhook', 'changes', 'poll', 'manual'] as const;
export type JobSource = (typeof JOB_SOURCES)[number];

export const JOURNEY_EVENTS = [
  'received', 'claimed', 'selected', 'fetched', 'detected', 'built', 'stored', 'skipped', 'error', 'retry', 'dead', 'lease-expired',
] as const;
export type JourneyEventName = (typeof JOURNEY_EVENTS)[number];

/** What the dashboard needs of one lesion: no patient data, only geometry, type and score. */
export interface LesionSummary {
  id: number;
  type: string;
  score: number;
  longAxisMm: number;
  shortAxisMm: number;
  keySlice: { sopInstanceUID: string; frameNumber?: number; box: [number, number, number, number] };
}

export interface JobOutputs {
  seriesInstanceUID?: string;
  srSeriesUID?: string;
  srSopInstanceUID?: string;
  segSeriesUID?: string;
  segSopInstanceUID?: string;
}

export interface Job {
  id: number;
  studyInstanceUID: string;
  source: JobSource;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  leaseOwner?: string;
  leaseExpiresAt?: number;
  nextAttemptAt: number;
  /** Ignore idempotency (a manual re-run). */
  force: boolean;
  lastError?: string;
  /** A short machine-readable category of the last failure or skip (metrics label). */
  reason?: string;
  idempotencyKey?: string;
  seriesInstanceUID?: string;
  modelVersion?: string;
  outputs?: JobOutputs;
  lesionCount?: number;
  lesions?: LesionSummary[];
  timingsMs?: Record<string, number>;
  /** Epoch ms: when the first event for this job arrived. */
  receivedAt: number;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
}

export interface JourneyEvent {
  id: number;
  jobId: number;
  at: number;
  event: JourneyEventName;
  details?: Record<string, unknown>;
}

export interface EnqueueRequest {
  studyInstanceUID: string;
  source: JobSource;
  force?: boolean;
  details?: Record<string, unknown>;
  /**
   * The same Orthanc event reaches us twice (push and change feed, moments apart): a job for the study created
   * by another source within this many ms absorbs the event even when it has already finished.
   */
  mergeWithinMs?: number;
}

export interface EnqueueResult {
  job: Job;
  /** False when the event joined a job that was already waiting or running for this study. */
  created: boolean;
}

export interface JobQuery {
  state?: JobState;
  studyInstanceUID?: string;
  limit?: number;
}

/** The outcome a worker reports for a claimed job. */
export type JobCompletion =
  | { kind: 'succeeded'; outputs: JobOutputs; lesions: LesionSummary[]; timingsMs: Record<string, number>; idempotencyKey: string; seriesInstanceUID: string; modelVersion: string }
  | { kind: 'skipped'; reason: string; message: string; idempotencyKey?: string; seriesInstanceUID?: string; modelVersion?: string }
  | { kind: 'failed'; reason: string; message: string; transient: boolean };

/**
 * The durable queue. Implementations must make claim() atomic across processes: one job is leased to one
 * worker at a time, and an expired lease makes the job claimable again.
 */
export interface JobStore {
  enqueue(req: EnqueueRequest): EnqueueResult;
  /** Leases the next due job to `owner` for `leaseMs`, or returns undefined. */
  claim(owner: string, leaseMs: number, now?: number): Job | undefined;
  /** Extends the lease; false when the job is no longer leased to `owner` (then the worker must stop). */
  renewLease(jobId: number, owner: string, leaseMs: number, now?: number): boolean;
  /** Records the outcome; retries and dead-lettering follow the backoff policy. */
  complete(jobId: number, owner: string, result: JobCompletion, now?: number): Job;
  addJourney(jobId: number, event: JourneyEventName, details?: Record<string, unknown>, at?: number): void;
  journey(jobId: number): JourneyEvent[];
  get(jobId: number): Job | undefined;
  list(q?: JobQuery): Job[];
  countByState(): Record<JobState, number>;
  /** A job that succeeded with this key (same study, series and model version). */
  findSucceeded(idempotencyKey: string): Job | undefined;
  hasJobForStudy(studyInstanceUID: string): boolean;
  getCursor(name: string): string | undefined;
  setCursor(name: string, value: string): void;
  ping(): boolean;
  close(): void;
}
