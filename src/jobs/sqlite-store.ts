/**
 * The embedded job store: one SQLite file (WAL), safe for several processes on one machine. claim() runs in an
 * IMMEDIATE transaction so that two workers never lease the same job.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { BackoffPolicy } from './backoff';
import { LeaseLostError } from './errors';
import { afterCompletion, afterLeaseExpiry, canTransition } from './state-machine';
import {
  ACTIVE_STATES, JOB_STATES,
  type EnqueueRequest, type EnqueueResult, type Job, type JobCompletion, type JobQuery, type JobState, type JobStore,
  type JourneyEvent, type JourneyEventName,
} from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_uid TEXT NOT NULL,
  source TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  next_attempt_at INTEGER NOT NULL,
  force INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  reason TEXT,
  idempotency_key TEXT,
  series_uid TEXT,
  model_version TEXT,
  outputs TEXT,
  lesion_count INTEGER,
  lesions TEXT,
  timings TEXT,
  received_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS jobs_study ON jobs (study_uid);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (idempotency_key, state);
CREATE TABLE IF NOT EXISTS journey (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  details TEXT
);
CREATE INDEX IF NOT EXISTS journey_job ON journey (job_id, id);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
`;

interface Row {
  id: number; study_uid: string; source: string; state: string; attempts: number; max_attempts: number;
  lease_owner: string | null; lease_expires_at: number | null; next_attempt_at: number; force: number;
  last_error: string | null; reason: string | null; idempotency_key: string | null; series_uid: string | null;
  model_version: string | null; outputs: string | null; lesion_count: number | null; lesions: string | null;
  timings: string | null; received_at: number; created_at: number; updated_at: number; finished_at: number | null;
}

export interface SqliteStoreOptions {
  file: string;
  maxAttempts: number;
  backoff: BackoffPolicy;
}

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  constructor(private readonly opts: SqliteStoreOptions) {
    if (opts.file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
    this.db = new Database(opts.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  enqueue(req: EnqueueRequest, now = Date.now()): EnqueueResult {
    const tx = this.db.transaction((): EnqueueResult => {
      const active = this.db
        .prepare(`SELECT * FROM jobs WHERE study_uid = ? AND state IN (${ACTIVE_STATES.map(() => '?').join(',')}) ORDER BY id LIMIT 1`)
        .get(req.studyInstanceUID, ...ACTIVE_STATES) as Row | undefined;
      const twin =
        active ??
        (req.mergeWithinMs && !req.force
          ? (this.db
              .prepare(`SELECT * FROM jobs WHERE study_uid = ? AND source != ? AND created_at >= ? AND force = 0 ORDER BY id DESC LIMIT 1`)
              .get(req.studyInstanceUID, req.source, now - req.mergeWithinMs) as Row | undefined)
          : undefined);
      if (twin) {
        this.addJourney(twin.id, 'received', { source: req.source, duplicate: true, ...req.details }, now);
        return { job: toJob(twin), created: false };
      }
      const info = this.db
        .prepare(
          `INSERT INTO jobs (study_uid, source, state, attempts, max_attempts, next_attempt_at, force, received_at, created_at, updated_at)
           VALUES (?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)`,
        )
        .run(req.studyInstanceUID, req.source, this.opts.maxAttempts, now, req.force ? 1 : 0, now, now, now);
      const id = Number(info.lastInsertRowid);
      this.addJourney(id, 'received', { source: req.source, ...req.details }, now);
      return { job: this.get(id)!, created: true };
    });
    return tx.immediate();
  }

  claim(owner: string, leaseMs: number, now = Date.now()): Job | undefined {
    const tx = this.db.transaction((): Job | undefined => {
      for (;;) {
        const row = this.db
          .prepare(
            `SELECT * FROM jobs
             WHERE (state IN ('queued', 'failed-retrying') AND next_attempt_at <= ?)
                OR (state = 'running' AND lease_expires_at < ?)
             ORDER BY next_attempt_at, id LIMIT 1`,
          )
          .get(now, now) as Row | undefined;
        if (!row) return undefined;
        const job = toJob(row);
        if (job.state === 'running') {
          this.addJourney(job.id, 'lease-expired', { previousOwner: job.leaseOwner, attempts: job.attempts }, now);
          const dead = afterLeaseExpiry(job, now);
          if (dead) {
            this.applyTransition(job.id, dead, now);
            this.addJourney(job.id, 'dead', { reason: dead.reason, message: dead.lastError }, now);
            continue;
          }
        }
        this.db
          .prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?`)
          .run(owner, now + leaseMs, now, job.id);
        this.addJourney(job.id, 'claimed', { worker: owner, attempt: job.attempts + 1 }, now);
        return this.get(job.id);
      }
    });
    return tx.immediate();
  }

  renewLease(jobId: number, owner: string, leaseMs: number, now = Date.now()): boolean {
    const r = this.db
      .prepare(`UPDATE jobs SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`)
      .run(now + leaseMs, now, jobId, owner);
    return r.changes === 1;
  }

  complete(jobId: number, owner: string, result: JobCompletion, now = Date.now()): Job {
    const tx = this.db.transaction((): Job => {
      const job = this.get(jobId);
      if (!job) throw new Error(`job ${jobId} does not exist`);
      if (job.state !== 'running' || job.leaseOwner !== owner)
        throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner} (state ${job.state})`);
      const t = afterCompletion(job, result, this.opts.backoff, now);
      if (!canTransition(job.state, t.state)) throw new Error(`job ${jobId}: ${job.state} -> ${t.state} is not allowed`);
      this.applyTransition(jobId, t, now);
      if (result.kind === 'succeeded') {
        this.db
          .prepare(
            `UPDATE jobs SET idempotency_key = ?, series_uid = ?, model_version = ?, outputs = ?, lesion_count = ?, lesions = ?, timings = ? WHERE id = ?`,
          )
          .run(result.idempotencyKey, result.seriesInstanceUID, result.modelVersion, JSON.stringify(result.outputs), result.lesions.length,
            JSON.stringify(result.lesions), JSON.stringify(result.timingsMs), jobId);
      } else if (result.kind === 'skipped') {
        this.db
          .prepare(`UPDATE jobs SET idempotency_key = ?, series_uid = ?, model_version = ? WHERE id = ?`)
          .run(result.idempotencyKey ?? null, result.seriesInstanceUID ?? null, result.modelVersion ?? null, jobId);
        this.addJourney(jobId, 'skipped', { reason: result.reason, message: result.message }, now);
      } else {
        this.addJourney(jobId, t.state === 'failed-retrying' ? 'retry' : t.state === 'dead' ? 'dead' : 'error', {
          reason: result.reason, message: t.lastError, transient: result.transient,
          ...(t.state === 'failed-retrying' ? { nextAttemptAt: new Date(t.nextAttemptAt).toISOString() } : {}),
        }, now);
      }
      return this.get(jobId)!;
    });
    return tx.immediate();
  }

  private applyTransition(jobId: number, t: { state: JobState; nextAttemptAt: number; lastError?: string; reason?: string; finishedAt?: number }, now: number): void {
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, next_attempt_at = ?, last_error = COALESCE(?, last_error), reason = COALESCE(?, reason),
         finished_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
      )
      .run(t.state, t.nextAttemptAt, t.lastError ?? null, t.reason ?? null, t.finishedAt ?? null, now, jobId);
  }

  addJourney(jobId: number, event: JourneyEventName, details?: Record<string, unknown>, at = Date.now()): void {
    this.db.prepare(`INSERT INTO journey (job_id, at, event, details) VALUES (?, ?, ?, ?)`).run(jobId, at, event, details ? JSON.stringify(details) : null);
  }

  journey(jobId: number): JourneyEvent[] {
    const rows = this.db.prepare(`SELECT * FROM journey WHERE job_id = ? ORDER BY id`).all(jobId) as {
      id: number; job_id: number; at: number; event: string; details: string | null;
    }[];
    return rows.map((r) => ({ id: r.id, jobId: r.job_id, at: r.at, event: r.event as JourneyEventName, details: r.details ? JSON.parse(r.details) : undefined }));
  }

  get(jobId: number): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(jobId) as Row | undefined;
    return row && toJob(row);
  }

  list(q: JobQuery = {}): Job[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.state) (where.push('state = ?'), args.push(q.state));
    if (q.studyInstanceUID) (where.push('study_uid = ?'), args.push(q.studyInstanceUID));
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit ?? 100) as Row[]).map(toJob);
  }

  countByState(): Record<JobState, number> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.db.prepare(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`).all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  findSucceeded(idempotencyKey: string): Job | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE idempotency_key = ? AND state = 'succeeded' ORDER BY id DESC LIMIT 1`).get(idempotencyKey) as Row | undefined;
    return row && toJob(row);
  }

  hasJobForStudy(studyInstanceUID: string): boolean {
    return !!this.db.prepare(`SELECT 1 FROM jobs WHERE study_uid = ? LIMIT 1`).get(studyInstanceUID);
  }

  getCursor(name: string): string | undefined {
    const r = this.db.prepare(`SELECT value FROM cursors WHERE name = ?`).get(name) as { value: string } | undefined;
    return r?.value;
  }

  setCursor(name: string, value: string): void {
    this.db
      .prepare(`INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
      .run(name, value, Date.now());
  }

  ping(): boolean {
    return (this.db.prepare('SELECT 1 AS ok').get() as { ok: number }).ok === 1;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}


function toJob(r: Row): Job {
  return {
    id: r.id,
    studyInstanceUID: r.study_uid,
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
  };
}
