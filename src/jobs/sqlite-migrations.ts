/**
 * The SQLite job store's schema, as numbered migrations (see migrations.ts). Never edit a released step: add one.
 * Version 1 is the schema of the first release, which had no schema_version table; its IF NOT EXISTS statements
 * adopt such a database as it is.
 */
import type { Migration } from './migrations';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'jobs, journey and cursors',
    sql: `
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
`,
  },
  {
    version: 2,
    description: 'job kind and payload; study_uid only for study analyses',
    // SQLite cannot drop a NOT NULL in place: the table is rebuilt (ids kept, so the journey still points right).
    sql: `
CREATE TABLE jobs_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  study_uid TEXT,
  payload TEXT NOT NULL DEFAULT '{}',
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
  finished_at INTEGER,
  CHECK (kind != 'study-analysis' OR study_uid IS NOT NULL)
);
INSERT INTO jobs_v2 (id, kind, study_uid, payload, source, state, attempts, max_attempts, lease_owner, lease_expires_at,
  next_attempt_at, force, last_error, reason, idempotency_key, series_uid, model_version, outputs, lesion_count, lesions,
  timings, received_at, created_at, updated_at, finished_at)
SELECT id, 'study-analysis', study_uid, '{}', source, state, attempts, max_attempts, lease_owner, lease_expires_at,
  next_attempt_at, force, last_error, reason, idempotency_key, series_uid, model_version, outputs, lesion_count, lesions,
  timings, received_at, created_at, updated_at, finished_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (state, next_attempt_at);
CREATE INDEX jobs_study ON jobs (study_uid);
CREATE INDEX jobs_key ON jobs (idempotency_key, state);
CREATE INDEX jobs_kind ON jobs (kind, state);
`,
  },
  {
    version: 3,
    description: 'stage entered, worker deaths and PACS faults by stage (poison rule)',
    sql: `
ALTER TABLE jobs ADD COLUMN stage TEXT;
ALTER TABLE jobs ADD COLUMN death_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN deaths TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN pacs_faults TEXT NOT NULL DEFAULT '{}';
`,
  },
  {
    version: 4,
    description: 'leader leases by role and node records (several lens serve processes)',
    sql: `
CREATE TABLE leaders (role TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE nodes (
  node TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  concurrency INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  roles TEXT NOT NULL DEFAULT '[]',
  running_jobs INTEGER NOT NULL
);
`,
  },
  {
    version: 5,
    description: 'start of a run of transient failures (retry horizon)',
    sql: `
ALTER TABLE jobs ADD COLUMN retrying_since INTEGER;
`,
  },
  {
    version: 6,
    description: 'study information of the analysed series for the dashboard (date, description, accession)',
    sql: `
ALTER TABLE jobs ADD COLUMN study_info TEXT;
ALTER TABLE jobs ADD COLUMN accession_number TEXT;
CREATE INDEX jobs_accession ON jobs (accession_number);
`,
  },
  {
    version: 7,
    description: "each node's analysis devices (node.gpus pinning: cuda:N or cpu per worker)",
    sql: `
ALTER TABLE nodes ADD COLUMN devices TEXT NOT NULL DEFAULT '[]';
`,
  },
  {
    version: 8,
    description: "each node's loaded model and a failed model switch (src/worker/model-reload.ts)",
    sql: `
ALTER TABLE nodes ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN model_error TEXT;
`,
  },
];
