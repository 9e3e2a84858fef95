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
import { PACS_CONNECTION_LOST, afterCompletion, afterLeaseExpiry, afterRedrive, canTransition, DEFAULT_POISON_AFTER, type PoisonPolicy, type Transition } from './state-machine';
import {
  FINAL_STATES, JOB_KINDS, JOB_STATES, WAITING_STATES,
  type ClaimOptions, type EnqueueRequest, type EnqueueResult, type Job, type JobCompletion, type JobKind, type JobQuery,
  type JobState, type JobStore, type JourneyEvent, type JourneyEventName, type Leadership, type NodeStatus, type RedriveQuery,
  type OutcomeCount, type StudyAnalysisJob, type StudyInfo, type StudyPage, type StudyQuery,
} from './types';
import { studyListSql, toStudyPage, type StudyListRow } from './study-list';
import { toJob, toNodeStatus, type JobRow as Row, type NodeRow } from './job-rows';
import { ATTEMPT_END_EVENTS, completionColumns, completionJourney, deathTotal, leaseExpiredJourney, NODE_RECORD_KEPT_MS, PACS_LOST_REASONS } from './store-steps';

export interface SqliteStoreOptions {
  file: string;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Deaths of the worker (or PACS faults) in one stage after which a job is quarantined (DEFAULT_POISON_AFTER). */
  poisonAfter?: number;
}


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
      const waiting = this.db
        .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? AND state IN (${placeholders(WAITING_STATES.length)}) ORDER BY id LIMIT 1`)
        .get(req.studyInstanceUID, ...WAITING_STATES) as Row | undefined;
      // A quarantined study (it crashed the analysis or the PACS) is not tried again by a re-sent event: only a
      // manual re-run (force) does; the event is kept in the quarantined job's journey.
      const quarantined = req.force
        ? undefined
        : (this.db
            .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? ORDER BY id DESC LIMIT 1`)
            .get(req.studyInstanceUID) as Row | undefined);
      const twin =
        waiting ??
        (quarantined?.state === 'quarantined' ? quarantined : undefined) ??
        (req.mergeWithinMs && !req.force
          ? (this.db
              .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? AND source != ? AND created_at >= ? AND force = 0 ORDER BY id DESC LIMIT 1`)
              .get(req.studyInstanceUID, req.source, now - req.mergeWithinMs) as Row | undefined)
          : undefined);
      if (twin) {
        this.insertJourney(twin.id, 'received', { source: req.source, duplicate: true, ...req.details }, now);
        return { job: toJob(twin), created: false };
      }
      // A follow-up of a running job (WAITING_STATES): claimed once that job has ended.
      const running = this.db
        .prepare(`SELECT id FROM jobs WHERE kind = 'study-analysis' AND study_uid = ? AND state = 'running' ORDER BY id LIMIT 1`)
        .get(req.studyInstanceUID) as { id: number } | undefined;
      const id = this.insert('study-analysis', req.studyInstanceUID, req.payload ?? {}, req.source, !!req.force, now);
      this.insertJourney(id, 'received', { source: req.source, ...req.details, ...(running ? { afterRunningJob: running.id } : {}) }, now);
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

  async claim(owner: string, leaseMs: number, { kinds = JOB_KINDS, now = Date.now(), node }: ClaimOptions = {}): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    return this.db.transaction((): Job | undefined => {
      this.recordDeaths(kinds, now);
      // Jobs whose worker died go after every other due job: a study that kills the worker never blocks the rest.
      const row = this.db
        .prepare(
          `SELECT * FROM jobs
           WHERE kind IN (${placeholders(kinds.length)}) AND state IN ('queued', 'failed-retrying') AND next_attempt_at <= ?
             AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.study_uid = jobs.study_uid AND o.id < jobs.id AND o.state IN ('queued', 'failed-retrying', 'running'))
             AND (json_extract(payload, '$.receivedBy') IS NULL OR json_extract(payload, '$.receivedBy') = ?)
           ORDER BY death_count > 0, next_attempt_at, id LIMIT 1`,
        )
        .get(...kinds, now, node ?? null) as Row | undefined;
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
   * Running jobs whose lease expired lost their service (killed, crashed, node gone; nobody saw why): recorded in
   * the journey and claimable again at once, counted neither as a death nor as a failed attempt (state-machine.ts).
   */
  private recordDeaths(kinds: readonly JobKind[], now: number): void {
    const expired = this.db
      .prepare(`SELECT * FROM jobs WHERE kind IN (${placeholders(kinds.length)}) AND state = 'running' AND lease_expires_at < ?`)
      .all(...kinds, now) as Row[];
    for (const row of expired) {
      const job = toJob(row);
      const t = afterLeaseExpiry(job, now);
      const j = leaseExpiredJourney(job, t);
      this.insertJourney(job.id, j.event, j.details, now);
      this.applyTransition(job.id, t, now);
    }
  }

  /** Attempts of the job lost with their service (state-machine.ts CompletionFacts.workersLost). */
  private workersLost(jobId: number): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM journey WHERE job_id = ? AND event = 'lease-expired'`).get(jobId) as { n: number }).n;
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

  async recordStudy(jobId: number, owner: string, study: StudyInfo, now = Date.now()): Promise<void> {
    const r = this.db
      .prepare(`UPDATE jobs SET study_info = ?, accession_number = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`)
      .run(JSON.stringify(study), study.accessionNumber?.toUpperCase() ?? null, now, jobId, owner);
    if (r.changes !== 1) throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner}`);
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
        pacsFailedOthers: result.kind === 'failed' && result.reason === PACS_CONNECTION_LOST ? this.pacsFailedOthers(jobId) : undefined,
        workersLost: this.workersLost(jobId),
      });
      if (!canTransition(job.state, t.state)) throw new Error(`job ${jobId}: ${job.state} -> ${t.state} is not allowed`);
      this.applyTransition(jobId, t, now);
      const columns = completionColumns(result);
      if (columns) this.db.prepare(`UPDATE jobs SET ${Object.keys(columns).map((n) => `${n} = ?`).join(', ')} WHERE id = ?`).run(...Object.values(columns), jobId);
      const j = completionJourney(result, t);
      if (j) this.insertJourney(jobId, j.event, j.details, now);
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
    if (t.deaths) this.db.prepare(`UPDATE jobs SET deaths = ?, death_count = ? WHERE id = ?`).run(JSON.stringify(t.deaths), deathTotal(t.deaths), jobId);
    if (t.pacsFaults) this.db.prepare(`UPDATE jobs SET pacs_faults = ? WHERE id = ?`).run(JSON.stringify(t.pacsFaults), jobId);
    if (t.retryingSince !== undefined) this.db.prepare(`UPDATE jobs SET retrying_since = ? WHERE id = ?`).run(t.retryingSince, jobId);
    if (t.maxAttempts !== undefined) this.db.prepare(`UPDATE jobs SET max_attempts = ? WHERE id = ?`).run(t.maxAttempts, jobId);
  }

  async redrive(q: RedriveQuery, now = Date.now()): Promise<number[]> {
    return this.db.transaction((): number[] => {
      if (q.state === 'failed-retrying') {
        const ids = (this.db
          // Not a job whose own request the PACS dropped: it may be what brought the PACS down; it waits its backoff.
          .prepare(`SELECT id FROM jobs WHERE state = 'failed-retrying' AND updated_at >= ? AND next_attempt_at > ? AND reason IS NOT ? ORDER BY id`)
          .all(q.failedSince, now, PACS_CONNECTION_LOST) as { id: number }[]).map((r) => r.id);
        for (const id of ids) {
          this.db.prepare(`UPDATE jobs SET next_attempt_at = ?, updated_at = ? WHERE id = ?`).run(now, now, id);
          this.insertJourney(id, 'resumed', q.details, now);
        }
        return ids;
      }
      const rows = this.db
        .prepare(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND state = 'dead' ${q.reason ? 'AND reason = ?' : ''} ORDER BY id`)
        .all(...(q.reason ? [q.reason] : [])) as Row[];
      for (const row of rows) {
        const job = toJob(row);
        const t = afterRedrive(job, this.opts.maxAttempts, now);
        this.applyTransition(job.id, t, now);
        this.insertJourney(job.id, 'redriven', { previousReason: job.reason, attempts: job.attempts, maxAttempts: t.maxAttempts, ...q.details }, now);
      }
      return rows.map((r) => r.id);
    }).immediate();
  }

  /**
   * Whether another job's attempt ended with the PACS unreachable or lost since this job's current attempt was
   * claimed (journey ids are in time order): the PACS failed for everyone, not for this study alone.
   */
  private pacsFailedOthers(jobId: number): boolean {
    const claimed = this.db.prepare(`SELECT id FROM journey WHERE job_id = ? AND event = 'claimed' ORDER BY id DESC LIMIT 1`).get(jobId) as { id: number } | undefined;
    return !!this.db
      .prepare(
        `SELECT 1 FROM journey WHERE id > ? AND job_id != ? AND event IN (${placeholders(ATTEMPT_END_EVENTS.length)})
         AND json_extract(details, '$.reason') IN (${placeholders(PACS_LOST_REASONS.length)}) LIMIT 1`,
      )
      .get(claimed?.id ?? 0, jobId, ...ATTEMPT_END_EVENTS, ...PACS_LOST_REASONS);
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

  async listStudies(q: StudyQuery): Promise<StudyPage> {
    const { rows, count } = studyListSql(q, () => '?');
    const page = this.db.prepare(rows.sql).all(...rows.args) as StudyListRow[];
    return toStudyPage(page, q, async () => (this.db.prepare(count.sql).get(...count.args) as { n: number }).n);
  }

  async outcomes(since: number): Promise<OutcomeCount[]> {
    const rows = this.db
      .prepare(
        `SELECT state, reason, COUNT(*) AS n FROM jobs WHERE kind = 'study-analysis' AND finished_at >= ?
         AND state IN (${FINAL_STATES.map(() => '?').join(', ')}) GROUP BY state, reason ORDER BY n DESC`,
      )
      .all(since, ...FINAL_STATES) as { state: JobState; reason: string | null; n: number }[];
    return rows.map((r) => ({ state: r.state, ...(r.reason ? { reason: r.reason } : {}), count: r.n }));
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

  async acquireLeadership(role: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    // One statement: the row is taken when free, renewed by its holder, or taken over once expired.
    const r = this.db
      .prepare(
        `INSERT INTO leaders (role, owner, expires_at) VALUES (?, ?, ?)
         ON CONFLICT(role) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leaders.owner = excluded.owner OR leaders.expires_at < ?`,
      )
      .run(role, owner, now + ttlMs, now);
    return r.changes === 1;
  }

  async releaseLeadership(role: string, owner: string): Promise<void> {
    this.db.prepare(`DELETE FROM leaders WHERE role = ? AND owner = ?`).run(role, owner);
  }

  async leaders(): Promise<Leadership[]> {
    const rows = this.db.prepare(`SELECT role, owner, expires_at FROM leaders ORDER BY role`).all() as { role: string; owner: string; expires_at: number }[];
    return rows.map((r) => ({ role: r.role, owner: r.owner, expiresAt: r.expires_at }));
  }

  async recordNode(s: NodeStatus): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO nodes (node, host, started_at, seen_at, concurrency, gpus, devices, roles, running_jobs, model, model_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(node) DO UPDATE SET host = excluded.host, started_at = excluded.started_at, seen_at = excluded.seen_at,
           concurrency = excluded.concurrency, gpus = excluded.gpus, devices = excluded.devices, roles = excluded.roles,
           running_jobs = excluded.running_jobs, model = excluded.model, model_error = excluded.model_error`,
      )
      .run(s.node, s.host, s.startedAt, s.seenAt, s.concurrency, s.gpus, JSON.stringify(s.devices), JSON.stringify(s.roles), s.runningJobs, s.model ?? '', s.modelError ?? null);
    this.db.prepare(`DELETE FROM nodes WHERE seen_at < ?`).run(s.seenAt - NODE_RECORD_KEPT_MS);
  }

  async nodes(): Promise<NodeStatus[]> {
    const rows = this.db.prepare(`SELECT * FROM nodes ORDER BY node`).all() as NodeRow[];
    return rows.map(toNodeStatus);
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
