/**
 * The network job store: PostgreSQL (node-postgres), shared by several `lens serve` processes on several
 * machines. Same semantics as the SQLite store (the life cycle is state-machine.ts; journey entries and result
 * columns are store-steps.ts): claims lock the chosen row with FOR UPDATE SKIP LOCKED, so that workers never wait
 * for each other nor lease one job twice; enqueues for one study are serialized by a transaction-scoped advisory
 * lock, so that two events for the same study arriving at two nodes make one job.
 */
import pg from 'pg';
import type { BackoffPolicy } from './backoff';
import { LeaseLostError } from './errors';
import { toJob, toNodeStatus, type JobRow, type NodeRow } from './job-rows';
import { pendingMigrations } from './migrations';
import { translatePostgresError } from './postgres-errors';
import { POSTGRES_MIGRATIONS } from './postgres-migrations';
import { PACS_CONNECTION_LOST, afterCompletion, afterLeaseExpiry, afterRedrive, canTransition, DEFAULT_POISON_AFTER, type PoisonPolicy, type Transition } from './state-machine';
import { completionColumns, completionJourney, deathTotal, leaseExpiredJourney, ATTEMPT_END_EVENTS, NODE_RECORD_KEPT_MS, PACS_LOST_REASONS } from './store-steps';
import {
  FINAL_STATES, JOB_KINDS, JOB_STATES, WAITING_STATES,
  type ClaimOptions, type EnqueueRequest, type EnqueueResult, type Job, type JobCompletion, type JobKind, type JobQuery,
  type JobState, type JobStore, type JourneyEvent, type JourneyEventName, type Leadership, type NodeStatus, type RedriveQuery,
  type OutcomeCount, type StudyAnalysisJob, type StudyInfo, type StudyPage, type StudyQuery,
} from './types';
import { studyListSql, toStudyPage, type StudyListRow } from './study-list';
import { log } from '../log';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (the password is never logged: redactDatabaseUrl). */
  url: string;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /** Deaths of the analysis (or PACS faults) in one stage after which a job is quarantined (DEFAULT_POISON_AFTER). */
  poisonAfter?: number;
  /** Connections this process keeps at most (default 10). */
  poolSize?: number;
}

/** Namespaces (first key) of the advisory locks this store takes: "LENS" and "LENT". */
const ENQUEUE_LOCK = 0x4c454e53;
const MIGRATION_LOCK = 0x4c454e54;

const INT8_OID = 20;
/** BIGINT columns hold epoch milliseconds and ids, well within a double's exact range: read them as numbers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The URL with its password masked, for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

type Queryable = Pick<pg.PoolClient, 'query'>;

export class PostgresJobStore implements JobStore {
  private readonly where: string;
  /** How errors name the store: the URL without its password. */
  private readonly what: string;

  private constructor(private readonly pool: pg.Pool, private readonly opts: PostgresStoreOptions) {
    this.where = redactDatabaseUrl(opts.url);
    this.what = `job store ${this.where}`;
  }

  /**
   * Connects and brings the schema up to date (several processes may open at once: one migrates, the others
   * wait); refuses a database newer than this code. An unreachable server rejects with JobStoreUnavailableError.
   */
  static async open(opts: PostgresStoreOptions): Promise<PostgresJobStore> {
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 10000, types });
    // An idle connection that breaks (server restart) is dropped from the pool; the next query connects again.
    pool.on('error', (e) => log.warn('job store: an idle PostgreSQL connection failed', { error: e.message, code: (e as { code?: string }).code }));
    const store = new PostgresJobStore(pool, opts);
    try {
      await store.migrate();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return store;
  }

  /** The schema version of the database (the last migration applied). */
  async schemaVersion(): Promise<number> {
    return this.version(this.pool);
  }

  private async version(c: Queryable): Promise<number> {
    const r = await c.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_version');
    return r.rows[0].v;
  }

  private async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, 0)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const m of pendingMigrations(await this.version(c), POSTGRES_MIGRATIONS, this.where)) {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)', [m.version, m.description, Date.now()]);
        log.info('job store: schema migrated', { version: m.version, description: m.description });
      }
    });
  }

  /** Runs `fn` in one transaction on one connection; store errors are translated (JobStoreUnavailableError). */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw translatePostgresError(e, this.what);
    }
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      // A connection that cannot even roll back is dropped rather than handed to the next caller.
      await c.query('ROLLBACK').catch((r: Error) => (broken = r));
      throw translatePostgresError(e, this.what);
    } finally {
      c.release(broken);
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, args: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, args);
    } catch (e) {
      throw translatePostgresError(e, this.what);
    }
  }

  async enqueue(req: EnqueueRequest, now = Date.now()): Promise<EnqueueResult> {
    return this.tx(async (c): Promise<EnqueueResult> => {
      if (req.kind === 'harvest-run') {
        const job = await this.insert(c, 'harvest-run', null, req.payload, req.source, false, now);
        await this.insertJourney(c, job.id, 'received', { source: req.source, ...req.details }, now);
        return { job, created: true };
      }
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ENQUEUE_LOCK, req.studyInstanceUID]);
      const waiting = (
        await c.query<JobRow>(
          `SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = $1 AND state = ANY($2::text[]) ORDER BY id LIMIT 1`,
          [req.studyInstanceUID, WAITING_STATES],
        )
      ).rows[0];
      // A quarantined study is not tried again by a re-sent event, only by a manual re-run (sqlite-store.ts).
      const quarantined = req.force
        ? undefined
        : (await c.query<JobRow>(`SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = $1 ORDER BY id DESC LIMIT 1`, [req.studyInstanceUID])).rows[0];
      const twin =
        waiting ??
        (quarantined?.state === 'quarantined' ? quarantined : undefined) ??
        (req.mergeWithinMs && !req.force
          ? (
              await c.query<JobRow>(
                `SELECT * FROM jobs WHERE kind = 'study-analysis' AND study_uid = $1 AND source <> $2 AND created_at >= $3 AND NOT force ORDER BY id DESC LIMIT 1`,
                [req.studyInstanceUID, req.source, now - req.mergeWithinMs],
              )
            ).rows[0]
          : undefined);
      if (twin) {
        await this.insertJourney(c, twin.id, 'received', { source: req.source, duplicate: true, ...req.details }, now);
        return { job: toJob(twin), created: false };
      }
      // A follow-up of a running job (WAITING_STATES): claimed once that job has ended.
      const running = (
        await c.query<{ id: number }>(`SELECT id FROM jobs WHERE kind = 'study-analysis' AND study_uid = $1 AND state = 'running' ORDER BY id LIMIT 1`, [req.studyInstanceUID])
      ).rows[0];
      const job = await this.insert(c, 'study-analysis', req.studyInstanceUID, req.payload ?? {}, req.source, !!req.force, now);
      await this.insertJourney(c, job.id, 'received', { source: req.source, ...req.details, ...(running ? { afterRunningJob: Number(running.id) } : {}) }, now);
      return { job, created: true };
    });
  }

  private async insert(c: Queryable, kind: JobKind, studyUid: string | null, payload: Record<string, unknown>, source: string, force: boolean, now: number): Promise<Job> {
    const r = await c.query<JobRow>(
      `INSERT INTO jobs (kind, study_uid, payload, source, state, attempts, max_attempts, next_attempt_at, force, received_at, created_at, updated_at)
       VALUES ($1, $2, $3::jsonb, $4, 'queued', 0, $5, $6, $7, $6, $6, $6) RETURNING *`,
      [kind, studyUid, JSON.stringify(payload), source, this.opts.maxAttempts, now, force],
    );
    return toJob(r.rows[0]);
  }

  async claim(owner: string, leaseMs: number, { kinds = JOB_KINDS, now = Date.now(), node }: ClaimOptions = {}): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    return this.tx(async (c) => {
      await this.recordLostWorkers(c, kinds, now);
      // Jobs whose analysis died go after every other due job: a study that kills the analysis never blocks the rest.
      const row = (
        await c.query<JobRow>(
          `SELECT * FROM jobs
           WHERE kind = ANY($1::text[]) AND state IN ('queued', 'failed-retrying') AND next_attempt_at <= $2
             AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.study_uid = jobs.study_uid AND o.id < jobs.id AND o.state IN ('queued', 'failed-retrying', 'running'))
             AND (payload->>'receivedBy' IS NULL OR payload->>'receivedBy' = $3)
           ORDER BY death_count > 0, next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
          [kinds, now, node ?? null],
        )
      ).rows[0];
      if (!row) return undefined;
      const claimed = await c.query<JobRow>(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, stage = NULL, lease_owner = $1, lease_expires_at = $2, updated_at = $3
         WHERE id = $4 RETURNING *`,
        [owner, now + leaseMs, now, row.id],
      );
      await this.insertJourney(c, row.id, 'claimed', { worker: owner, attempt: row.attempts + 1 }, now);
      return toJob(claimed.rows[0]);
    });
  }

  private get poison(): PoisonPolicy {
    return { poisonAfter: this.opts.poisonAfter ?? DEFAULT_POISON_AFTER };
  }

  /**
   * Running jobs whose lease expired lost their service: recorded in the journey and claimable again at once
   * (state-machine.ts afterLeaseExpiry). Rows another claimer is handling right now are left to it.
   */
  private async recordLostWorkers(c: Queryable, kinds: readonly JobKind[], now: number): Promise<void> {
    const expired = await c.query<JobRow>(
      `SELECT * FROM jobs WHERE kind = ANY($1::text[]) AND state = 'running' AND lease_expires_at < $2 FOR UPDATE SKIP LOCKED`,
      [kinds, now],
    );
    for (const row of expired.rows) {
      const job = toJob(row);
      const t = afterLeaseExpiry(job, now);
      const j = leaseExpiredJourney(job, t);
      await this.insertJourney(c, job.id, j.event, j.details, now);
      await this.applyTransition(c, job.id, t, now);
    }
  }

  /** Attempts of the job lost with their service (state-machine.ts CompletionFacts.workersLost). */
  private async workersLost(c: Queryable, jobId: number): Promise<number> {
    const r = await c.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM journey WHERE job_id = $1 AND event = 'lease-expired'`, [jobId]);
    return r.rows[0].n;
  }

  async enterStage(jobId: number, owner: string, stage: string, now = Date.now()): Promise<void> {
    await this.tx(async (c) => {
      const r = await c.query(`UPDATE jobs SET stage = $1, updated_at = $2 WHERE id = $3 AND state = 'running' AND lease_owner = $4`, [stage, now, jobId, owner]);
      if (r.rowCount !== 1) throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner}`);
      await this.insertJourney(c, jobId, 'stage-started', { stage }, now);
    });
  }

  async recordStudy(jobId: number, owner: string, study: StudyInfo, now = Date.now()): Promise<void> {
    const r = await this.query(
      `UPDATE jobs SET study_info = $1::jsonb, accession_number = $2, updated_at = $3 WHERE id = $4 AND state = 'running' AND lease_owner = $5`,
      [JSON.stringify(study), study.accessionNumber?.toUpperCase() ?? null, now, jobId, owner],
    );
    if (r.rowCount !== 1) throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner}`);
  }

  async renewLease(jobId: number, owner: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    const r = await this.query(`UPDATE jobs SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND state = 'running' AND lease_owner = $4`, [
      now + leaseMs, now, jobId, owner,
    ]);
    return r.rowCount === 1;
  }

  async complete(jobId: number, owner: string, result: JobCompletion, now = Date.now()): Promise<Job> {
    return this.tx(async (c): Promise<Job> => {
      const row = (await c.query<JobRow>(`SELECT * FROM jobs WHERE id = $1 FOR UPDATE`, [jobId])).rows[0];
      if (!row) throw new Error(`job ${jobId} does not exist`);
      const job = toJob(row);
      if (job.state !== 'running' || job.leaseOwner !== owner)
        throw new LeaseLostError(`job ${jobId} is no longer leased to ${owner} (state ${job.state})`);
      const t = afterCompletion(job, result, { ...this.opts.backoff, ...this.poison }, now, {
        pacsFailedOthers: result.kind === 'failed' && result.reason === PACS_CONNECTION_LOST ? await this.pacsFailedOthers(c, job) : undefined,
        workersLost: await this.workersLost(c, jobId),
      });
      if (!canTransition(job.state, t.state)) throw new Error(`job ${jobId}: ${job.state} -> ${t.state} is not allowed`);
      await this.applyTransition(c, jobId, t, now);
      const columns = completionColumns(result);
      if (columns) {
        const names = Object.keys(columns);
        await c.query(`UPDATE jobs SET ${names.map((n, i) => `${n} = $${i + 2}`).join(', ')} WHERE id = $1`, [jobId, ...Object.values(columns)]);
      }
      const j = completionJourney(result, t);
      if (j) await this.insertJourney(c, jobId, j.event, j.details, now);
      return toJob((await c.query<JobRow>(`SELECT * FROM jobs WHERE id = $1`, [jobId])).rows[0]);
    });
  }

  private async applyTransition(c: Queryable, jobId: number, t: Transition, now: number): Promise<void> {
    await c.query(
      `UPDATE jobs SET state = $1, next_attempt_at = $2, last_error = COALESCE($3, last_error), reason = COALESCE($4, reason),
       finished_at = $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = $6,
       deaths = COALESCE($7::jsonb, deaths), death_count = COALESCE($8, death_count), pacs_faults = COALESCE($9::jsonb, pacs_faults),
       retrying_since = CASE WHEN $10 THEN $11::bigint ELSE retrying_since END, max_attempts = COALESCE($12, max_attempts)
       WHERE id = $13`,
      [
        t.state, t.nextAttemptAt, t.lastError ?? null, t.reason ?? null, t.finishedAt ?? null, now,
        t.deaths ? JSON.stringify(t.deaths) : null, t.deaths ? deathTotal(t.deaths) : null, t.pacsFaults ? JSON.stringify(t.pacsFaults) : null,
        t.retryingSince !== undefined, t.retryingSince ?? null, t.maxAttempts ?? null, jobId,
      ],
    );
  }

  async redrive(q: RedriveQuery, now = Date.now()): Promise<number[]> {
    return this.tx(async (c): Promise<number[]> => {
      if (q.state === 'failed-retrying') {
        // Not a job whose own request the PACS dropped: it may be what brought the PACS down; it waits its backoff.
        const r = await c.query<{ id: number }>(
          `UPDATE jobs SET next_attempt_at = $1, updated_at = $1 WHERE state = 'failed-retrying' AND updated_at >= $2 AND next_attempt_at > $1 AND reason IS DISTINCT FROM $3 RETURNING id`,
          [now, q.failedSince, PACS_CONNECTION_LOST],
        );
        const ids = r.rows.map((x) => x.id).sort((a, b) => a - b);
        for (const id of ids) await this.insertJourney(c, id, 'resumed', q.details, now);
        return ids;
      }
      const rows = (
        await c.query<JobRow>(
          `SELECT * FROM jobs WHERE kind = 'study-analysis' AND state = 'dead' ${q.reason ? 'AND reason = $1' : ''} ORDER BY id FOR UPDATE`,
          q.reason ? [q.reason] : [],
        )
      ).rows;
      for (const row of rows) {
        const job = toJob(row);
        const t = afterRedrive(job, this.opts.maxAttempts, now);
        await this.applyTransition(c, job.id, t, now);
        await this.insertJourney(c, job.id, 'redriven', { previousReason: job.reason, attempts: job.attempts, maxAttempts: t.maxAttempts, ...q.details }, now);
      }
      return rows.map((r) => r.id);
    });
  }

  /** Whether another job's attempt ended with the PACS unreachable or lost since this job's attempt was claimed. */
  private async pacsFailedOthers(c: Queryable, job: Job): Promise<boolean> {
    const claimed = await c.query<{ id: number }>(`SELECT id FROM journey WHERE job_id = $1 AND event = 'claimed' ORDER BY id DESC LIMIT 1`, [job.id]);
    const r = await c.query(
      `SELECT 1 FROM journey WHERE id > $1 AND job_id <> $2 AND event = ANY($3::text[]) AND details->>'reason' = ANY($4::text[]) LIMIT 1`,
      [claimed.rows[0]?.id ?? 0, job.id, ATTEMPT_END_EVENTS, PACS_LOST_REASONS],
    );
    return r.rows.length > 0;
  }

  async addJourney(jobId: number, event: JourneyEventName, details?: Record<string, unknown>, at = Date.now()): Promise<void> {
    await this.insertJourney(this.pool, jobId, event, details, at).catch((e: unknown) => {
      throw translatePostgresError(e, this.what);
    });
  }

  private async insertJourney(c: Queryable, jobId: number, event: JourneyEventName, details: Record<string, unknown> | undefined, at: number): Promise<void> {
    await c.query(`INSERT INTO journey (job_id, at, event, details) VALUES ($1, $2, $3, $4::jsonb)`, [jobId, at, event, details ? JSON.stringify(details) : null]);
  }

  async journey(jobId: number): Promise<JourneyEvent[]> {
    const r = await this.query<{ id: number; job_id: number; at: number; event: string; details: Record<string, unknown> | null }>(
      `SELECT * FROM journey WHERE job_id = $1 ORDER BY id`,
      [jobId],
    );
    return r.rows.map((e) => ({ id: e.id, jobId: e.job_id, at: e.at, event: e.event as JourneyEventName, details: e.details ?? undefined }));
  }

  async get(jobId: number): Promise<Job | undefined> {
    const row = (await this.query<JobRow>(`SELECT * FROM jobs WHERE id = $1`, [jobId])).rows[0];
    return row && toJob(row);
  }

  async list(q: JobQuery = {}): Promise<Job[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (column: string, value: unknown) => (args.push(value), where.push(`${column} = $${args.length}`));
    if (q.kind) add('kind', q.kind);
    if (q.state) add('state', q.state);
    if (q.studyInstanceUID) add('study_uid', q.studyInstanceUID);
    args.push(q.limit ?? 100);
    const r = await this.query<JobRow>(`SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`, args);
    return r.rows.map(toJob);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of (await this.query<{ state: JobState; n: number }>(`SELECT state, COUNT(*)::int AS n FROM jobs GROUP BY state`)).rows) out[r.state] = r.n;
    return out;
  }

  async listStudies(q: StudyQuery): Promise<StudyPage> {
    const { rows, count } = studyListSql(q, (n) => `$${n}`);
    const page = (await this.query<StudyListRow>(rows.sql, rows.args)).rows;
    return toStudyPage(page, q, async () => (await this.query<{ n: string }>(count.sql, count.args)).rows[0].n);
  }

  async outcomes(since: number): Promise<OutcomeCount[]> {
    const r = await this.query<{ state: JobState; reason: string | null; n: number }>(
      `SELECT state, reason, COUNT(*)::int AS n FROM jobs WHERE kind = 'study-analysis' AND finished_at >= $1 AND state = ANY($2)
       GROUP BY state, reason ORDER BY n DESC`,
      [since, [...FINAL_STATES]],
    );
    return r.rows.map((x) => ({ state: x.state, ...(x.reason ? { reason: x.reason } : {}), count: x.n }));
  }

  async findSucceeded(idempotencyKey: string): Promise<StudyAnalysisJob | undefined> {
    const row = (
      await this.query<JobRow>(
        `SELECT * FROM jobs WHERE kind = 'study-analysis' AND idempotency_key = $1 AND state = 'succeeded' ORDER BY id DESC LIMIT 1`,
        [idempotencyKey],
      )
    ).rows[0];
    const job = row && toJob(row);
    return job?.kind === 'study-analysis' ? job : undefined;
  }

  async hasJobForStudy(studyInstanceUID: string): Promise<boolean> {
    return (await this.query(`SELECT 1 FROM jobs WHERE study_uid = $1 LIMIT 1`, [studyInstanceUID])).rows.length > 0;
  }

  async acquireLeadership(role: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    // One statement: the row is taken when free, renewed by its holder, or taken over once expired. ON CONFLICT
    // locks the existing row and evaluates the WHERE on its latest version, so two nodes never both win.
    const r = await this.query(
      `INSERT INTO leaders (role, owner, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (role) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE leaders.owner = EXCLUDED.owner OR leaders.expires_at < $4`,
      [role, owner, now + ttlMs, now],
    );
    return r.rowCount === 1;
  }

  async releaseLeadership(role: string, owner: string): Promise<void> {
    await this.query(`DELETE FROM leaders WHERE role = $1 AND owner = $2`, [role, owner]);
  }

  async leaders(): Promise<Leadership[]> {
    const r = await this.query<{ role: string; owner: string; expires_at: number }>(`SELECT role, owner, expires_at FROM leaders ORDER BY role`);
    return r.rows.map((l) => ({ role: l.role, owner: l.owner, expiresAt: l.expires_at }));
  }

  async recordNode(s: NodeStatus): Promise<void> {
    await this.query(
      `INSERT INTO nodes (node, host, started_at, seen_at, concurrency, gpus, devices, roles, running_jobs, model, model_error)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11)
       ON CONFLICT (node) DO UPDATE SET host = EXCLUDED.host, started_at = EXCLUDED.started_at, seen_at = EXCLUDED.seen_at,
         concurrency = EXCLUDED.concurrency, gpus = EXCLUDED.gpus, devices = EXCLUDED.devices, roles = EXCLUDED.roles,
         running_jobs = EXCLUDED.running_jobs, model = EXCLUDED.model, model_error = EXCLUDED.model_error`,
      [s.node, s.host, s.startedAt, s.seenAt, s.concurrency, s.gpus, JSON.stringify(s.devices), JSON.stringify(s.roles), s.runningJobs, s.model ?? '', s.modelError ?? null],
    );
    await this.query(`DELETE FROM nodes WHERE seen_at < $1`, [s.seenAt - NODE_RECORD_KEPT_MS]);
  }

  async nodes(): Promise<NodeStatus[]> {
    return (await this.query<NodeRow>(`SELECT * FROM nodes ORDER BY node`)).rows.map(toNodeStatus);
  }

  async getCursor(name: string): Promise<string | undefined> {
    return (await this.query<{ value: string }>(`SELECT value FROM cursors WHERE name = $1`, [name])).rows[0]?.value;
  }

  async setCursor(name: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [name, value, Date.now()],
    );
  }

  async ping(): Promise<boolean> {
    return (await this.query<{ ok: number }>('SELECT 1 AS ok')).rows[0].ok === 1;
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
