/**
 * SQLite's resource failures (disk full, locked past the busy timeout, read-only) reach the service as
 * JobStoreUnavailableError with a reason, from statements, transactions and the store's own methods alike; other
 * errors pass through unchanged. The failures are SQLite's real ones: a database capped with max_page_count fills
 * exactly as a full disk does (SQLITE_FULL).
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LensError } from '../../../src/errors';
import { JobStoreUnavailableError } from '../../../src/jobs/errors';
import { guardDatabase } from '../../../src/jobs/sqlite-errors';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-store-errors-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fillUntilFull(db: Database.Database, write: (blob: Buffer) => void): unknown {
  db.pragma('max_page_count = 8');
  for (let i = 0; i < 100; i++) {
    try {
      write(Buffer.alloc(4096, i));
    } catch (e) {
      return e;
    }
  }
  throw new Error('the database never filled');
}

test('a full database throws store-full, from a statement and from a transaction', () => {
  const db = guardDatabase(new Database(':memory:'));
  db.exec('CREATE TABLE t (b BLOB)');
  const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
  const e = fillUntilFull(db, (b) => insert.run(b));
  expect(e).toBeInstanceOf(JobStoreUnavailableError);
  expect(e).toBeInstanceOf(LensError);
  expect(e).toMatchObject({ reason: 'store-full', transient: true, code: 'SQLITE_FULL' });
  expect((e as Error).message).not.toContain(dir);

  const tx = db.transaction((b: Buffer) => insert.run(b));
  expect(() => tx.immediate(Buffer.alloc(4096))).toThrow(JobStoreUnavailableError);
  // Reads still work on a full database.
  expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBeGreaterThan(0);
  db.close();
});

test('a database locked past the busy timeout and a read-only one are store-unavailable', () => {
  const file = path.join(dir, 'locked.sqlite');
  const holder = new Database(file);
  holder.pragma('journal_mode = WAL');
  holder.exec('CREATE TABLE t (x INTEGER)');
  const other = guardDatabase(new Database(file));
  other.pragma('busy_timeout = 0');
  holder.exec('BEGIN IMMEDIATE');
  expect(() => other.prepare('INSERT INTO t VALUES (1)').run()).toThrow(expect.objectContaining({ reason: 'store-unavailable', code: 'SQLITE_BUSY' }));
  holder.exec('ROLLBACK');
  other.close();

  const ro = guardDatabase(new Database(file, { readonly: true }));
  expect(() => ro.exec('INSERT INTO t VALUES (1)')).toThrow(expect.objectContaining({ reason: 'store-unavailable', code: 'SQLITE_READONLY' }));
  ro.close();
  holder.close();
});

test('other SQLite errors are not resource failures and pass through unchanged', () => {
  const db = guardDatabase(new Database(':memory:'));
  db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)');
  db.prepare('INSERT INTO t VALUES (1)').run();
  let e: unknown;
  try {
    db.prepare('INSERT INTO t VALUES (1)').run();
  } catch (x) {
    e = x;
  }
  expect(e).not.toBeInstanceOf(JobStoreUnavailableError);
  expect((e as { code?: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
  expect(() => db.prepare('SELECT * FROM missing')).toThrow(/no such table/);
  db.close();
});

test('a database path that can never work is a configuration error, not a transient one to wait for', () => {
  const blocker = path.join(dir, 'not-a-folder');
  fs.writeFileSync(blocker, '');
  let e: unknown;
  try {
    new SqliteJobStore({ file: path.join(blocker, 'jobs.sqlite'), maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  } catch (x) {
    e = x;
  }
  expect((e as { code?: string }).code).toBe('EEXIST');
  expect(e).not.toBeInstanceOf(JobStoreUnavailableError);
});
