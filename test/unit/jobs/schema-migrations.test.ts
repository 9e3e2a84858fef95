/**
 * The job database's schema migrations: a database of the first release (no schema_version table) is brought up
 * to date without losing a job, a journey event or a cursor; a database of a newer lens-pacs is refused.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pendingMigrations, SchemaTooNewError } from '../../../src/jobs/migrations';
import { SQLITE_MIGRATIONS } from '../../../src/jobs/sqlite-migrations';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';

/** The schema of the first release, exactly as it created its database (before numbered migrations existed). */
const FIRST_RELEASE_SCHEMA = `
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

const options = (file: string) => ({ file, maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-jobs-'));
  file = path.join(dir, 'jobs.sqlite');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A database as the first release left it: a succeeded job (with its results), a queued one, a running one. */
function writeFirstReleaseDatabase(): void {
  const db = new Database(file);
  db.exec(FIRST_RELEASE_SCHEMA);
  const insert = db.prepare(
    `INSERT INTO jobs (id, study_uid, source, state, attempts, max_attempts, lease_owner, lease_expires_at, next_attempt_at, force,
       idempotency_key, series_uid, model_version, outputs, lesion_count, lesions, timings, received_at, created_at, updated_at, finished_at)
     VALUES (?, ?, ?, ?, ?, 5, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?, 100, 100, 200, ?)`,
  );
  const lesions = JSON.stringify([{ id: 1, type: 'lung_nodule', score: 0.9, longAxisMm: 8, shortAxisMm: 6, keySlice: { sopInstanceUID: '1.9', box: [1, 2, 3, 4] } }]);
  insert.run(3, '1.2.3', 'webhook', 'succeeded', 1, null, null, '1.2.3|1.2.3.4|m1', '1.2.3.4', 'm1', JSON.stringify({ srSopInstanceUID: '1.5' }), 1, lesions, JSON.stringify({ detected: 900 }), 250);
  insert.run(7, '1.2.4', 'changes', 'queued', 0, null, null, null, null, null, null, null, null, null, null);
  insert.run(8, '1.2.5', 'poll', 'running', 1, 'old-worker', 150, null, null, null, null, null, null, null, null);
  const journey = db.prepare('INSERT INTO journey (job_id, at, event, details) VALUES (?, ?, ?, ?)');
  journey.run(3, 100, 'received', JSON.stringify({ source: 'webhook' }));
  journey.run(3, 250, 'stored', JSON.stringify({ ms: 40 }));
  journey.run(7, 100, 'received', null);
  journey.run(8, 100, 'received', null);
  db.prepare('INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)').run('orthanc-changes', '812', 100);
  db.close();
}

test('a database of the first release is migrated: every job, journey event and cursor is still there and works', async () => {
  writeFirstReleaseDatabase();
  const store = new SqliteJobStore(options(file));
  try {
    expect(store.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    const jobs = await store.list();
    expect(jobs.map((j) => [j.id, j.kind, j.studyInstanceUID, j.state])).toEqual([
      [8, 'study-analysis', '1.2.5', 'running'],
      [7, 'study-analysis', '1.2.4', 'queued'],
      [3, 'study-analysis', '1.2.3', 'succeeded'],
    ]);
    expect(await store.get(3)).toMatchObject({
      payload: {}, outputs: { srSopInstanceUID: '1.5' }, lesionCount: 1, lesions: [{ type: 'lung_nodule' }], timingsMs: { detected: 900 }, finishedAt: 250,
    });
    expect((await store.journey(3)).map((e) => [e.event, e.details])).toEqual([['received', { source: 'webhook' }], ['stored', { ms: 40 }]]);
    expect(await store.getCursor('orthanc-changes')).toBe('812');
    // Idempotency and the merge of duplicate events still see the old jobs.
    expect((await store.findSucceeded('1.2.3|1.2.3.4|m1'))?.id).toBe(3);
    expect(await store.enqueue({ studyInstanceUID: '1.2.4', source: 'webhook' }, 300)).toMatchObject({ created: false, job: { id: 7 } });
    // The queued job is claimed; the old running job's worker is gone, so its expired lease is taken over.
    expect(await store.claim('new-worker', 1000, { now: 400 })).toMatchObject({ id: 7, attempts: 1, leaseOwner: 'new-worker' });
    expect(await store.claim('new-worker', 1000, { now: 400 })).toMatchObject({ id: 8, attempts: 2, leaseOwner: 'new-worker' });
    expect((await store.journey(8)).map((e) => e.event)).toEqual(['received', 'lease-expired', 'claimed']);
    // New jobs never reuse an old id (their journeys would mix).
    const fresh = await store.enqueue({ studyInstanceUID: '1.2.6', source: 'manual' }, 500);
    expect(fresh.job.id).toBeGreaterThan(8);
  } finally {
    await store.close();
  }
  // Opened again: nothing left to migrate, nothing lost.
  const again = new SqliteJobStore(options(file));
  expect(again.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
  expect(await again.list()).toHaveLength(4);
  await again.close();
});

test('a new database gets every migration, each recorded once', async () => {
  const store = new SqliteJobStore(options(file));
  await store.close();
  const db = new Database(file, { readonly: true });
  expect(db.prepare('SELECT version FROM schema_version ORDER BY version').all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
  db.close();
});

test('a database written by a newer lens-pacs is refused with a clear error, and left as it was', async () => {
  await (new SqliteJobStore(options(file))).close();
  const db = new Database(file);
  db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)').run(SQLITE_MIGRATIONS.length + 5, 'from the future', 0);
  db.close();
  let error: unknown;
  try {
    new SqliteJobStore(options(file));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SchemaTooNewError);
  expect((error as Error).message).toContain(`schema version ${SQLITE_MIGRATIONS.length + 5}`);
  expect((error as Error).message).toContain(`up to ${SQLITE_MIGRATIONS.length}`);
  expect((error as Error).message).toContain(file);
  const after = new Database(file, { readonly: true });
  expect((after.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number }).v).toBe(SQLITE_MIGRATIONS.length + 5);
  after.close();
});

test('pending migrations: those after the current version, in order; a list with a gap is a bug', () => {
  const m = (version: number) => ({ version, description: `m${version}`, sql: '' });
  expect(pendingMigrations(0, [m(1), m(2), m(3)], 'db').map((x) => x.version)).toEqual([1, 2, 3]);
  expect(pendingMigrations(2, [m(1), m(2), m(3)], 'db').map((x) => x.version)).toEqual([3]);
  expect(pendingMigrations(3, [m(1), m(2), m(3)], 'db')).toEqual([]);
  expect(() => pendingMigrations(4, [m(1), m(2), m(3)], 'db')).toThrow(SchemaTooNewError);
  expect(() => pendingMigrations(0, [m(1), m(3)], 'db')).toThrow(/out of order/);
});
