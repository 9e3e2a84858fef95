/**
 * The embedded job store: one SQLite file (WAL), safe for several processes on one machine. claim() runs in an
 * IMMEDIATE transaction so that two workers never lease the same job. better-sqlite3 is synchronous: each method
 * does its work at once and returns a settled Promise, the shape a network store needs.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { BackoffPolicy } from './backoff';
import { LeaseLostError } from './errors';
import { pendingMigrations } from './migrations';
import { guardDatabase, translateSqliteError } from './sqlite-errors';
import { SQLITE_MIGRATIONS } from './sqlite-migrations';
import { afterCompletion, afterLeaseExpiry, canTransition, DEFAULT_POISON_AFTER, type PoisonPolicy, type Transition } from './state-machine';
import {
  ACTIVE_STATES, JOB_KINDS, JOB_STATES,
  type ClaimOptions, type EnqueueRequest, type EnqueueResult, type Job, type JobCompletion, type JobKind, type JobQuery,
  type JobState, type JobStore, type JourneyEvent, type JourneyEventName, type StudyAnalysisJob,
} from './types';

interface Row {
  id: number; kind: string; study_uid: string | null; payload: string; source: string; state: string; attempts: number;
  max_attempts: number; lease_owner: string | null; lease_expires_at: number | null; next_attempt_at: number; force: number;
  last_error: string | null; reason: string | null; idempotency_key: string | null; series_uid: string | null;
  model_version: string | null; outputs: string | null; lesion_count: number | null; lesions: string | null;
  timings: string | null; received_at: number; created_at: number; updated_at: number; finished_at: number | null;
  stage: string | null; death_count: number; deaths: string; pacs_faults: string;
}

export interface SqliteStoreOptions {
  file: string;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Deaths of the worker (or PACS faults) in one stage after which a job is quarantined (DEFAULT_POISON_AFTER). */
  poisonAfter?: number;
}

/** Journey events of stages that read or write the PACS: evidence that it answered. */
const PACS_STAGES = ['selected', 'fetched', 'stored'];

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(',');

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  /** Opens (or creates) the database and brings its schema up to date; refuses one newer than this code. */
  constructor(private readonly opts: SqliteStoreOptions) {
    // Resource failures (disk full, I/O, locked, read-only) become JobStoreUnavailableError, at open as later.
    try {
      if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
      this.db = guardDatabase(new Database(opts.file));
    } catch (e) {
      throw translateSqliteError(e);
    }
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('synchronous = NORMAL');
      this.migrate();
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** The schema version of the open database (the last migration applied). */
  schemaVersion(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number }).v;
  }

  private migrate(): void {
    // A table rebuild drops the table the journey points to; the foreign key is checked once all steps are done.
    // (The pragma is a no-op inside a transaction, so it is switched here.)
    const fk = this.db.pragma('foreign_keys', { simple: true }) as number;
    this.db.pragma('foreign_keys = OFF');
    try {
      this.db.transaction(() => {
        this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)');
        for (const m of pendingMigrations(this.schemaVersion(), SQLITE_MIGRATIONS, this.opts.file)) {
          this.db.exec(m.sql);
          this.db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(m.version, m.description, Date.now());
        }
        const broken = this.db.pragma('foreign_key_check') as unknown[];
        if (broken.length) throw new Error(`job database ${this.opts.file}: ${broken.length} journey rows point to no job after the migration`);
      }).immediate();
    } finally {
      this.db.pragma(`foreign_keys = ${fk ? 'ON' : 'OFF'}`);
    }
  }

  async enqueue(req: EnqueueRequest, now = Date.now()): Promise<EnqueueResult> {
    return this.db.transaction((): EnqueueResult => {
      if (req.kind === 'harvest-run') {
        const id = this.insert('harvest-run', null, req.payload, req.source, false, now);
        this.insertJourney(id, 'received', { source: req.source, ...req.details }, now);
        return { job: this.row(id)!, created: true };
      }
      const active = this.db
        .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? AND state IN (${placeholders(ACTIVE_STATES.length)}) ORDER BY id LIMIT 1`)
        .get(req.studyInstanceUID, ...ACTIVE_STATES) as Row | undefined;
      const twin =
        active ??
        (req.mergeWithinMs && !req.force
          ? (this.db
              .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? AND source != ? AND created_at >= ? AND force = 0 ORDER BY id DESC LIMIT 1`)
              .get(req.studyInstanceUID, req.source, now - req.mergeWithinMs) as Row | undefined)
          : undefined);
      if (twin) {
        this.insertJourney(twin.id, 'received', { source: req.source, duplicate: true, ...req.details }, now);
        return { job: toJob(twin), created: false };
      }
      const id = this.insert('study-analysis', req.studyInstanceUID, req.payload ?? {}, req.source, !!req.force, now);
      this.insertJourney(id, 'received', { source: req.source, ...req.details }, now);
      return { job: this.row(id)!, created: true };
    }).immediate();
  }

  private insert(kind: JobKind, studyUid: string | null, payload: Record<string, unknown>, source: string, force: boolean, now: number): number {
    const info = this.db
      .prepare(
        `INSERT INTO jobs (kind, study_uid, payload, source, state, attempts, max_attempts, next_attempt_at, force, received_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)`,
      )
      .run(kind, studyUid, JSON.stringify(payload), source, this.opts.maxAttempts, now, force ? 1 : 0, now, now, now);
    return Number(info.lastInsertRowid);
  }

  async claim(owner: string, leaseMs: number, { kinds = JOB_KINDS, now = Date.now() }: ClaimOptions = {}): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    return this.db.transaction((): Job | undefined => {
      this.recordDeaths(kinds, now);
      // Jobs whose worker died go after every other due job: a study that kills the worker never blocks the rest.
      const row = this.db
        .prepare(
          `SELECT * FROM jobs
           WHERE kind IN (${placeholders(kinds.length)}) AND state IN ('queued', 'failed-retrying') AND next_attempt_at <= ?
           ORDER BY death_count > 0, next_attempt_at, id LIMIT 1`,
        )
        .get(...kinds, now) as Row | undefined;
      if (!row) return undefined;
      const job = toJob(row);
      this.db
        .prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?`)
        .run(owner, now + leaseMs, now, job.id);
      this.insertJourney(job.id, 'claimed', { worker: owner, attempt: job.attempts + 1 }, now);
      return this.row(job.id);
    }).immediate();
  }

  private get poison(): PoisonPolicy {
    return { poisonAfter: this.opts.poisonAfter ?? DEFAULT_POISON_AFTER };
  }

  /**
   * Running jobs whose lease expired lost their worker (killed or crashed): each death is counted for the stage it
   * happened in; the job waits for a claim again (not counted as a failed attempt), or is quarantined (poison rule).
   */
  private recordDeaths(kinds: readonly JobKind[], now: number): void {
    const expired = this.db
      .prepare(`SELECT * FROM jobs WHERE kind IN (${placeholders(kinds.length)}) AND state = 'running' AND lease_expires_at < ?`)
      .all(...kinds, now) as Row[];
    for (const row of expired) {
      const job = toJob(row);
      const r = afterLeaseExpiry(job, this.poison, now);
      this.insertJourney(job.id, 'lease-expired', { previousOwner: job.leaseOwner, attempts: job.attempts, stage: r.stage, deaths: r.deaths }, now);
      const t: Transition = r.quarantine ?? {
        state: 'failed-retrying', nextAttemptAt: now, deaths: r.deaths, reason: 'worker-lost',
        lastError: `the worker died in stage ${r.stage} (lease expired); taken up again`,
      };
      this.applyTransition(job.id, t, now);
      if (r.quarantine) this.insertJourney(job.id, 'quarantined', { reason: t.reason, message: t.lastError, stage: r.stage, deaths: r.deaths }, now);
    }
  }

  async enterStage(jobId: number, owner: string, stage: string, now = Date.now()): Promise<void> {
    this.db.transaction(() => {
      const r = this.db
        .prepare(`UPDATE jobs SET stage = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`)
        .run(stage, now, jobId, owner);
      if (r.changes !== 1) throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner}`);
      this.insertJourney(jobId, 'stage-started', { stage }, now);
    }).immediate();
  }

  async renewLease(jobId: number, owner: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const r = this.db
      .prepare(`UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`)
      .run(now + leaseMs, now, jobId, owner);
    return r.changes === 1;
  }

  async complete(jobId: number, owner: string, result: JobCompletion, now = Date.now()): Promise<Job> {
    return this.db.transaction((): Job => {
      const job = this.row(jobId);
      if (!job) throw new Error(`job ${jobId} does not exist`);
      if (job.state !== 'running' || job.leaseOwner !== owner)
        throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner} (state ${job.state})`);
      const t = afterCompletion(job, result, { ...this.opts.backoff, ...this.poison }, now, {
        pacsAnsweredOthers: result.kind === 'failed' && result.reason === 'pacs-unreachable' ? this.pacsAnsweredOthers(jobId) : undefined,
      });
      if (!canTransition(job.state, t.state)) throw new Error(`job ${jobId}: ${job.state} -> ${t.state} is not allowed`);
      this.applyTransition(jobId, t, now);
      if (result.kind === 'succeeded') {
        this.db
          .prepare(
            `UPDATE jobs SET idempotency_key = ?, series_uid = ?, model_version = ?, outputs = ?, lesion_count = ?, lesions = ?, timings = ? WHERE id = ?`,
          )
          .run(result.idempotencyKey, result.seriesInstanceUID, result.modelVersion, JSON.stringify(result.outputs),
            result.alreadyStored?.lesionCount ?? result.lesions.length,
            JSON.stringify(result.lesions), JSON.stringify(result.timingsMs), jobId);
      } else if (result.kind === 'skipped') {
        this.db
          .prepare(`UPDATE jobs SET idempotency_key = ?, series_uid = ?, model_version = ? WHERE id = ?`)
          .run(result.idempotencyKey ?? null, result.seriesInstanceUID ?? null, result.modelVersion ?? null, jobId);
        this.insertJourney(jobId, 'skipped', { reason: result.reason, message: result.message }, now);
      } else {
        const event = t.state === 'failed-retrying' ? 'retry' : t.state === 'dead' ? 'dead' : t.state === 'quarantined' ? 'quarantined' : 'error';
        this.insertJourney(jobId, event, {
          reason: t.reason, message: t.lastError, transient: result.transient, ...(result.stage ? { stage: result.stage } : {}),
          ...(t.pacsFaults ? { pacsFaults: t.pacsFaults } : {}),
          ...(t.state === 'failed-retrying' ? { nextAttemptAt: new Date(t.nextAttemptAt).toISOString() } : {}),
        }, now);
      }
      return this.row(jobId)!;
    }).immediate();
  }

  private applyTransition(jobId: number, t: Transition, now: number): void {
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, next_attempt_at = ?, last_error = COALESCE(?, last_error), reason = COALESCE(?, reason),
         finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(t.state, t.nextAttemptAt, t.lastError ?? null, t.reason ?? null, t.finishedAt ?? null, now, jobId);
    if (t.deaths) {
      const n = Object.values(t.deaths).reduce((a, b) => a + b, 0);
      this.db.prepare(`UPDATE jobs SET deaths = ?, death_count = ? WHERE id = ?`).run(JSON.stringify(t.deaths), n, jobId);
    }
    if (t.pacsFaults) this.db.prepare(`UPDATE jobs SET pacs_faults = ? WHERE id = ?`).run(JSON.stringify(t.pacsFaults), jobId);
  }

  /**
   * Whether another job finished a stage that talks to the PACS since this job's previous attempt began (since it
   * was received, before its second attempt): the PACS answered others while this study's requests failed.
   */
  private pacsAnsweredOthers(jobId: number): boolean {
    const claims = this.db.prepare(`SELECT at FROM journey WHERE job_id = ? AND event = 'claimed' ORDER BY id DESC LIMIT 2`).all(jobId) as { at: number }[];
    const since = claims.length === 2 ? claims[1].at : (this.db.prepare(`SELECT received_at AS at FROM jobs WHERE id = ?`).get(jobId) as { at: number }).at;
    return !!this.db
      .prepare(`SELECT 1 FROM journey WHERE job_id != ? AND event IN (${placeholders(PACS_STAGES.length)}) AND at >= ? LIMIT 1`)
      .get(jobId, ...PACS_STAGES, since);
  }

  async addJourney(jobId: number, event: JourneyEventName, details?: Record<string, unknown>, at = Date.now()): Promise<void> {
    this.insertJourney(jobId, event, details, at);
  }

  private insertJourney(jobId: number, event: JourneyEventName, details: Record<string, unknown> | undefined, at: number): void {
    this.db.prepare(`INSERT INTO journey (job_id, at, event, details) VALUES (?, ?, ?, ?)`).run(jobId, at, event, details ? JSON.stringify(details) : null);
  }

  async journey(jobId: number): Promise<JourneyEvent[]> {
    const rows = this.db.prepare(`SELECT * FROM journey WHERE job_id = ? ORDER BY id`).all(jobId) as {
      id: number; job_id: number; at: number; event: string; details: string | null;
    }[];
    return rows.map((r) => ({ id: r.id, jobId: r.job_id, at: r.at, event: r.event as JourneyEventName, details: r.details ? JSON.parse(r.details) : undefined }));
  }

  async get(jobId: number): Promise<Job | undefined> {
    return this.row(jobId);
  }

  private row(jobId: number): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(jobId) as Row | undefined;
    return row && toJob(row);
  }

  async list(q: JobQuery = {}): Promise<Job[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.kind) (where.push('kind = ?'), args.push(q.kind));
    if (q.state) (where.push('state = ?'), args.push(q.state));
    if (q.studyInstanceUID) (where.push('study_uid = ?'), args.push(q.studyInstanceUID));
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit ?? 100) as Row[]).map(toJob);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.db.prepare(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`).all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  async findSucceeded(idempotencyKey: string): Promise<StudyAnalysisJob | undefined> {
    const row = this.db
      .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND idempotency_key = ? AND state = 'succeeded' ORDER BY id DESC LIMIT 1`)
      .get(idempotencyKey) as Row | undefined;
    const job = row && toJob(row);
    return job?.kind === 'study-analysis' ? job : undefined;
  }

  async hasJobForStudy(studyInstanceUID: string): Promise<boolean> {
    return !!this.db.prepare(`SELECT 1 FROM jobs WHERE study_uid = ? LIMIT 1`).get(studyInstanceUID);
  }

  async getCursor(name: string): Promise<string | undefined> {
    const r = this.db.prepare(`SELECT value FROM cursors WHERE name = ?`).get(name) as { value: string } | undefined;
    return r?.value;
  }

  async setCursor(name: string, value: string): Promise<void> {
    this.db
      .prepare(`INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
      .run(name, value, Date.now());
  }

  async ping(): Promise<boolean> {
    return (this.db.prepare('SELECT 1 AS ok').get() as { ok: number }).ok === 1;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toJob(r: Row): Job {
  const fields = {
    id: r.id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    source: r.source as Job['source'],
    state: r.state as JobState,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    leaseOwner: r.lease_owner ?? undefined,
    leaseExpiresAt: r.lease_expires_at ?? undefined,
    nextAttemptAt: r.next_attempt_at,
    force: r.force === 1,
    lastError: r.last_error ?? undefined,
    reason: r.reason ?? undefined,
    idempotencyKey: r.idempotency_key ?? undefined,
    seriesInstanceUID: r.series_uid ?? undefined,
    modelVersion: r.model_version ?? undefined,
    outputs: r.outputs ? JSON.parse(r.outputs) : undefined,
    lesionCount: r.lesion_count ?? undefined,
    lesions: r.lesions ? JSON.parse(r.lesions) : undefined,
    timingsMs: r.timings ? JSON.parse(r.timings) : undefined,
    receivedAt: r.received_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at ?? undefined,
    stage: r.stage ?? undefined,
    deaths: JSON.parse(r.deaths) as Record<string, number>,
    pacsFaults: JSON.parse(r.pacs_faults) as Record<string, number>,
  };
  if (r.kind === 'study-analysis') return { ...fields, kind: 'study-analysis', studyInstanceUID: r.study_uid! };
  if (r.kind === 'harvest-run') return { ...fields, kind: 'harvest-run' };
  throw new Error(`job ${r.id} has an unknown kind ${JSON.stringify(r.kind)}`);
}
