/**
 * The job model of the service (mercure-style): one job per unit of work (today: analysing one study), its
 * state, and a journey of events. Kept free of storage details so that SQLite and a network database (PostgreSQL)
 * implement the same JobStore.
 */

/**
 * What a job does. A study analysis is about one study (studyInstanceUID: the key of its idempotency and of the
 * merge of duplicate events); a harvest run walks an archive and has no study of its own.
 */
export const JOB_KINDS = ['study-analysis', 'harvest-run'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Kind-specific input of a job, stored as JSON. Never patient data: UIDs, dates, options. */
export type JobPayload = Record<string, unknown>;

/**
 * `quarantined`: the job's attempts kept killing the worker (or the PACS) in the same stage: it is set aside with
 * its reason (poison-suspected, pacs-poison-suspected) so that it cannot crash the service in a loop; a manual
 * re-run (force) tries it again.
 */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'skipped', 'failed', 'failed-retrying', 'dead', 'quarantined'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States in which a job still has work to do. */
export const ACTIVE_STATES: readonly JobState[] = ['queued', 'running', 'failed-retrying'];
/**
 * States of a job that has not started its analysis yet: a second event for the same study joins such a job. An
 * event for a study whose job is running queues a follow-up instead (the study may have changed since that job
 * listed it: the rest of a series arriving during the analysis); a job is claimed only when no earlier job of its
 * study is active, so one study is analysed by one job at a time, in the order the events came.
 */
export const WAITING_STATES: readonly JobState[] = ['queued', 'failed-retrying'];
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'skipped', 'failed', 'dead', 'quarantined'];

// 'dimse': a study received by the service's own C-STORE SCP (src/dimse); its payload names the received files' folder.
export const JOB_SOURCES = ['webhook', 'changes', 'poll', 'manual', 'dimse'] as const;
export type JobSource = (typeof JOB_SOURCES)[number];

export const JOURNEY_EVENTS = [
  'received', 'claimed', 'selected', 'fetched', 'detected', 'built', 'stored', 'skipped', 'error', 'retry', 'dead', 'lease-expired',
  // Written before a stage runs (the stage in details), so that a worker dying inside it leaves the stage behind.
  'stage-started',
  'quarantined',
  // The PACS already held this analysis' SR and SEG (a worker died after storing them): completed without analysis.
  'already-stored',
  // A dead job queued again with a fresh attempt budget (API re-drive); a waiting retry made due now (PACS back).
  'redriven', 'resumed',
  // A harvest run's progress (src/harvest/nightly.ts): studies met of those found, and the run's figures so far.
  'harvest-progress',
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

/**
 * The study as its analysed series' metadata names it, for the people who run the service (dashboard). Accession
 * number and description identify a patient's examination: shown to authenticated users only, never logged and
 * never in the journey.
 */
export interface StudyInfo {
  /** DICOM DA, YYYYMMDD. */
  studyDate?: string;
  studyDescription?: string;
  modality?: string;
  accessionNumber?: string;
  /** The series analysed. */
  seriesInstanceUID: string;
  seriesDescription?: string;
  seriesNumber?: number;
  instances: number;
}

export interface JobOutputs {
  seriesInstanceUID?: string;
  srSeriesUID?: string;
  srSopInstanceUID?: string;
  segSeriesUID?: string;
  segSopInstanceUID?: string;
}

interface JobFields {
  id: number;
  payload: JobPayload;
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
  /** The stage the current (or last) attempt entered; a worker that dies leaves it behind. */
  stage?: string;
  /**
   * Attempts whose analysis process the service saw die (out of memory, a signal, a stall), by the stage it died in.
   * They do not count against maxAttempts; the poison rule (state-machine.ts) quarantines a job that dies too often
   * in one stage. Attempts lost with the whole service (lease expired) are not counted here (journey `lease-expired`).
   */
  deaths?: Record<string, number>;
  /** Attempts whose PACS requests failed at connection level while other jobs reached the PACS, by stage. */
  pacsFaults?: Record<string, number>;
  /** Epoch ms: when the current run of transient failures began (the retry horizon counts from it). */
  retryingSince?: number;
  /** What the dashboard shows of the study, recorded when the series was selected (JobStore.recordStudy). */
  study?: StudyInfo;
  /** Epoch ms: when the first event for this job arrived. */
  receivedAt: number;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
}

export interface StudyAnalysisJob extends JobFields {
  kind: 'study-analysis';
  studyInstanceUID: string;
}

export interface HarvestRunJob extends JobFields {
  kind: 'harvest-run';
  studyInstanceUID?: undefined;
}

export type Job = StudyAnalysisJob | HarvestRunJob;
export type JobOfKind<K extends JobKind> = Extract<Job, { kind: K }>;

export interface JourneyEvent {
  id: number;
  jobId: number;
  at: number;
  event: JourneyEventName;
  details?: Record<string, unknown>;
}

/** An event asking for a study to be analysed (`kind` may be left out: it is the default kind). */
export interface StudyAnalysisRequest {
  kind?: 'study-analysis';
  studyInstanceUID: string;
  source: JobSource;
  payload?: JobPayload;
  force?: boolean;
  /** Journey details of the `received` event (where the event came from). */
  details?: Record<string, unknown>;
  /**
   * The same Orthanc event reaches us twice (push and change feed, moments apart): a job for the study created
   * by another source within this many ms absorbs the event even when it has already finished.
   */
  mergeWithinMs?: number;
}

/** A request for a harvest run: every request makes a job of its own (no study to merge on). */
export interface HarvestRunRequest {
  kind: 'harvest-run';
  source: JobSource;
  payload: JobPayload;
  details?: Record<string, unknown>;
}

export type EnqueueRequest = StudyAnalysisRequest | HarvestRunRequest;

export interface EnqueueResult {
  job: Job;
  /** False when the event joined a job that was already waiting or running for this study. */
  created: boolean;
}

export interface JobQuery {
  kind?: JobKind;
  state?: JobState;
  studyInstanceUID?: string;
  limit?: number;
}

/** The dashboard's study list: one row per study, newest first. */
export interface StudyQuery {
  /** The state of the study's current job (the row's job). */
  state?: JobState;
  /** An accession number (exact, case-insensitive) or the start of a StudyInstanceUID. */
  search?: string;
  limit: number;
  offset?: number;
}

export interface StudyRow {
  studyInstanceUID: string;
  /**
   * The study's current job: its latest job that is not a skip for our own outputs (the re-announcement caused by
   * storing the SR/SEG), or its latest job when it has only such skips.
   */
  job: StudyAnalysisJob;
  /** The latest study information any of its jobs recorded. */
  study?: StudyInfo;
  jobs: number;
  /** Skips for our own outputs, folded into the study rather than shown as rows. */
  ownOutputEvents: number;
}

export interface StudyPage {
  studies: StudyRow[];
  /** Studies matching the query, all pages together. */
  total: number;
}

/** Study analyses that finished in a state (with a reason) since a time: throughput and failures by reason. */
export interface OutcomeCount {
  state: JobState;
  reason?: string;
  count: number;
}

/** The outcome a worker reports for a claimed job. */
export type JobCompletion =
  | {
      kind: 'succeeded'; outputs: JobOutputs; lesions: LesionSummary[]; timingsMs: Record<string, number>; idempotencyKey: string;
      seriesInstanceUID: string; modelVersion: string;
      /** Outputs found already stored in the PACS (no analysis ran): the lesion count read from the stored SR. */
      alreadyStored?: { lesionCount: number };
    }
  | { kind: 'skipped'; reason: string; message: string; idempotencyKey?: string; seriesInstanceUID?: string; modelVersion?: string }
  | {
      kind: 'failed'; reason: string; message: string; transient: boolean; /** The stage the attempt failed in. */ stage?: string;
      /** The service saw the analysis process die (reason and message name the cause): the poison rule counts it. */
      died?: boolean;
    };

/** A node's record of itself, refreshed on a timer (API, dashboard, metrics; a stale one is shown as gone). */
export interface NodeStatus {
  /** The worker pool's owner string (host:pid:random). */
  node: string;
  host: string;
  startedAt: number;
  seenAt: number;
  concurrency: number;
  gpus: number;
  /** Where each analysis worker's model runs, by worker index ('cuda:0', 'cuda:1', 'cpu'): what loaded, not what was asked. */
  devices: string[];
  /** The model its analyses run now (name-version; src/worker/model-reload.ts); absent in records of older nodes. */
  model?: string;
  /** Why the model registry's current model is not the loaded one (a failed switch); absent when it is. */
  modelError?: string;
  /** Roles this node held at its last refresh (e.g. 'events', 'harvest'). */
  roles: string[];
  runningJobs: number;
}

/** Who holds a role (one leader per role across nodes) and until when, unless renewed. */
export interface Leadership {
  role: string;
  owner: string;
  expiresAt: number;
}

export type RedriveQuery =
  | { state: 'dead'; reason?: string; details?: Record<string, unknown> }
  | { state: 'failed-retrying'; failedSince: number; details?: Record<string, unknown> };

export interface ClaimOptions {
  /** Only jobs of these kinds (the ones this worker can run); all kinds when left out. */
  kinds?: readonly JobKind[];
  /**
   * The claiming node's name (node.name): a job whose payload names another node in `receivedBy` (its input files
   * are on that node's disk, e.g. a study received by C-STORE) is left to that node.
   */
  node?: string;
  now?: number;
}

/**
 * The durable queue. Every method returns a Promise, so that a store over the network (PostgreSQL) implements the
 * same interface as the embedded one. Implementations must make claim() atomic across processes: one job is
 * leased to one worker at a time, and an expired lease makes the job claimable again. The rules of the life
 * cycle are the pure functions of state-machine.ts, shared by every implementation.
 */
export interface JobStore {
  enqueue(req: EnqueueRequest, now?: number): Promise<EnqueueResult>;
  /** Leases the next due job to `owner` for `leaseMs`, or resolves to undefined. */
  claim(owner: string, leaseMs: number, opts?: ClaimOptions): Promise<Job | undefined>;
  /** Extends the lease; false when the job is no longer leased to `owner` (then the worker must stop). */
  renewLease(jobId: number, owner: string, leaseMs: number, now?: number): Promise<boolean>;
  /**
   * Records that the leased job enters `stage`, before the stage runs (column and journey), so that a worker that
   * dies inside it leaves the stage behind for the poison rule. Rejects with LeaseLostError.
   */
  enterStage(jobId: number, owner: string, stage: string, now?: number): Promise<void>;
  /** Records the outcome; retries and dead-lettering follow the backoff policy. Rejects with LeaseLostError. */
  complete(jobId: number, owner: string, result: JobCompletion, now?: number): Promise<Job>;
  /** Records what the dashboard shows of the leased job's study (its selection). Rejects with LeaseLostError. */
  recordStudy(jobId: number, owner: string, study: StudyInfo, now?: number): Promise<void>;
  addJourney(jobId: number, event: JourneyEventName, details?: Record<string, unknown>, at?: number): Promise<void>;
  journey(jobId: number): Promise<JourneyEvent[]>;
  get(jobId: number): Promise<Job | undefined>;
  list(q?: JobQuery): Promise<Job[]>;
  countByState(): Promise<Record<JobState, number>>;
  /** Study analyses, one row per study (own-output skips folded in), filtered and paged (StudyQuery). */
  listStudies(q: StudyQuery): Promise<StudyPage>;
  /** Study analyses in a final state whose finished_at is at or after `since` (epoch ms), by state and reason. */
  outcomes(since: number): Promise<OutcomeCount[]>;
  /** A study analysis that succeeded with this key (same study, series and model version). */
  findSucceeded(idempotencyKey: string): Promise<StudyAnalysisJob | undefined>;
  hasJobForStudy(studyInstanceUID: string): Promise<boolean>;
  /**
   * Re-drive. `dead`: dead study analyses (all, or those whose reason is `reason`) are queued now with a fresh
   * attempt budget (state-machine.ts afterRedrive). `failed-retrying`: jobs waiting for a retry whose last failure
   * came at or after `failedSince` are made due now (the PACS answers again after an outage). Each job gets a
   * journey event (`redriven`, `resumed`) with `details`; resolves to the ids of the jobs changed.
   */
  redrive(q: RedriveQuery, now?: number): Promise<number[]>;
  /**
   * Takes or renews the role for `owner` until now + ttlMs; true when `owner` holds it afterwards. Atomic across
   * processes: at most one owner per role holds an unexpired lease.
   */
  acquireLeadership(role: string, owner: string, ttlMs: number, now?: number): Promise<boolean>;
  releaseLeadership(role: string, owner: string): Promise<void>;
  leaders(): Promise<Leadership[]>;
  recordNode(status: NodeStatus): Promise<void>;
  nodes(): Promise<NodeStatus[]>;
  getCursor(name: string): Promise<string | undefined>;
  setCursor(name: string, value: string): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
