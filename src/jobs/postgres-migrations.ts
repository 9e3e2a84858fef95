/**
 * The PostgreSQL job store's schema, as numbered migrations (see migrations.ts). Its numbers are its own (SQLite's
 * steps 1-3 rebuilt tables of released databases; PostgreSQL starts at today's schema). Never edit a released
 * step: add one. Times are epoch milliseconds (BIGINT), as in SQLite, so that both stores share the row mapping
 * (job-rows.ts); JSON columns are jsonb.
 */
import type { Migration } from './migrations';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'jobs, journey, cursors, leader leases and node records',
    sql: `
CREATE TABLE jobs (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  study_uid TEXT,
  payload JSONB NOT NULL DEFAULT '{}',
  source TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  next_attempt_at BIGINT NOT NULL,
  force BOOLEAN NOT NULL DEFAULT FALSE,
  last_error TEXT,
  reason TEXT,
  idempotency_key TEXT,
  series_uid TEXT,
  model_version TEXT,
  outputs JSONB,
  lesion_count INTEGER,
  lesions JSONB,
  timings JSONB,
  received_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT,
  stage TEXT,
  death_count INTEGER NOT NULL DEFAULT 0,
  deaths JSONB NOT NULL DEFAULT '{}',
  pacs_faults JSONB NOT NULL DEFAULT '{}',
  CHECK (kind <> 'study-analysis' OR study_uid IS NOT NULL)
);
CREATE INDEX jobs_due ON jobs (state, next_attempt_at);
CREATE INDEX jobs_study ON jobs (study_uid);
CREATE INDEX jobs_key ON jobs (idempotency_key, state);
CREATE INDEX jobs_kind ON jobs (kind, state);
CREATE TABLE journey (
  id BIGSERIAL PRIMARY KEY,
  job_id BIGINT NOT NULL REFERENCES jobs(id),
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  details JSONB
);
CREATE INDEX journey_job ON journey (job_id, id);
CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE leaders (role TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE nodes (
  node TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  seen_at BIGINT NOT NULL,
  concurrency INTEGER NOT NULL,
  gpus INTEGER NOT NULL,
  roles JSONB NOT NULL DEFAULT '[]',
  running_jobs INTEGER NOT NULL
);
`,
  },
  {
    version: 2,
    description: 'start of a run of transient failures (retry horizon)',
    sql: `ALTER TABLE jobs ADD COLUMN retrying_since BIGINT;`,
  },
  {
    version: 3,
    description: 'study information of the analysed series for the dashboard (date, description, accession)',
    sql: `
ALTER TABLE jobs ADD COLUMN study_info JSONB;
ALTER TABLE jobs ADD COLUMN accession_number TEXT;
CREATE INDEX jobs_accession ON jobs (accession_number);
`,
  },
  {
    version: 4,
    description: "each node's analysis devices (node.gpus pinning: cuda:N or cpu per worker)",
    sql: `ALTER TABLE nodes ADD COLUMN devices JSONB NOT NULL DEFAULT '[]';`,
  },
  {
    version: 5,
    description: "each node's loaded model and a failed model switch (src/worker/model-reload.ts)",
    sql: `ALTER TABLE nodes ADD COLUMN model TEXT NOT NULL DEFAULT ''; ALTER TABLE nodes ADD COLUMN model_error TEXT;`,
  },
];
