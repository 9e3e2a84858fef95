/**
 * SQLite's failures that say "the store cannot work now" (disk full, I/O error, locked past the busy timeout,
 * read-only file system) become JobStoreUnavailableError, so the service treats them as a resource state (pause
 * intake, readiness false, resume by itself) and never as a bug. Every other error passes through unchanged.
 */
import type Database from 'better-sqlite3';
import { JobStoreUnavailableError } from './errors';

/** Primary result codes (better-sqlite3 reports extended ones, e.g. SQLITE_IOERR_WRITE, with the primary as prefix). */
const FULL = ['SQLITE_FULL'];
const UNAVAILABLE = ['SQLITE_IOERR', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL'];
/** The system's own codes when the failure happens outside SQLite (creating the folder, opening the file). */
const SYSTEM_FULL = ['ENOSPC', 'EDQUOT'];
const SYSTEM_UNAVAILABLE = ['EIO', 'EROFS', 'EACCES', 'EPERM'];

const matches = (code: string, list: string[]) => list.some((c) => code === c || code.startsWith(`${c}_`));

/** The store error for `e`, or `e` itself when it is not a resource failure. `what` names the store (no path). */
export function translateSqliteError(e: unknown, what = 'job store'): unknown {
  if (e instanceof JobStoreUnavailableError) return e;
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return e;
  const message = (e as { message?: unknown }).message;
  if (matches(code, FULL) || SYSTEM_FULL.includes(code))
    return new JobStoreUnavailableError(`${what}: disk full (${code})`, 'store-full', code, { cause: e });
  if (matches(code, UNAVAILABLE) || SYSTEM_UNAVAILABLE.includes(code))
    return new JobStoreUnavailableError(`${what}: unavailable (${code}${typeof message === 'string' ? `: ${message}` : ''})`, 'store-unavailable', code, { cause: e });
  return e;
}

function guarded<A extends unknown[], R>(fn: (...a: A) => R, what: string): (...a: A) => R {
  return (...a: A) => {
    try {
      return fn(...a);
    } catch (e) {
      throw translateSqliteError(e, what);
    }
  };
}

/**
 * Makes every statement, exec, pragma and transaction of `db` throw translated errors, so that each store method
 * (present and future) reports resource failures the same way without a try/catch of its own.
 */
export function guardDatabase(db: Database.Database, what = 'job store'): Database.Database {
  const prepare = db.prepare.bind(db);
  const transaction = db.transaction.bind(db);
  db.exec = guarded(db.exec.bind(db), what) as typeof db.exec;
  db.pragma = guarded(db.pragma.bind(db), what) as typeof db.pragma;
  db.prepare = ((source: string) => {
    const stmt = guarded(prepare, what)(source);
    for (const m of ['run', 'get', 'all', 'iterate'] as const) {
      const orig = (stmt[m] as (...a: unknown[]) => unknown).bind(stmt);
      (stmt as unknown as Record<string, unknown>)[m] = guarded(orig, what);
    }
    return stmt;
  }) as typeof db.prepare;
  db.transaction = ((fn: (...a: unknown[]) => unknown) => {
    const tx = transaction(fn);
    // COMMIT itself can fail (the WAL cannot grow): the variants run it, so each is guarded.
    const out = guarded(tx, what) as typeof tx;
    for (const v of ['default', 'deferred', 'immediate', 'exclusive'] as const) out[v] = guarded(tx[v], what);
    return out;
  }) as typeof db.transaction;
  return db;
}
