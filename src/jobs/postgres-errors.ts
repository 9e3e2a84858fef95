/**
 * PostgreSQL's failures that say "the store cannot work now" (server unreachable or shutting down, connection
 * lost, too many connections, disk full, read-only standby) become JobStoreUnavailableError, as SQLite's do
 * (sqlite-errors.ts), so that the intake gate pauses intake and the service waits instead of treating them as
 * bugs. Every other error (a constraint, a syntax error: a bug) passes through unchanged.
 */
import { LensError, UNREACHABLE_CODES } from '../errors';
import { JobStoreUnavailableError } from './errors';

/** SQLSTATE disk_full: the server's disk (data or WAL) is full. */
const FULL = ['53100'];
/**
 * SQLSTATE classes and codes of a server that cannot serve now: 08 connection exceptions, 53 insufficient
 * resources (memory, connections), 57P01-57P03 shutting down / starting up, 58030 I/O error, 25006 read-only
 * transaction (a standby after a failover), 40P01 deadlock and 55P03 lock not available (both: try again).
 */
const UNAVAILABLE_CLASSES = ['08', '53'];
const UNAVAILABLE = ['57P01', '57P02', '57P03', '58030', '25006', '40P01', '55P03'];
/**
 * SQLSTATEs of a store that is reachable but wrongly configured (no such database, wrong user or password, no
 * right to create the tables): the operator must change jobs.database or the server; waiting would not help.
 */
const MISCONFIGURED = ['3D000', '28P01', '28000', '42501'];

/** node-postgres's own errors for a connection that went away; they carry no code. */
const LOST_CONNECTION = /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Connection closed/i;

/** The store error for `e`, or `e` itself when it is not a resource failure. `what` names the store (no password). */
export function translatePostgresError(e: unknown, what = 'job store'): unknown {
  if (e instanceof JobStoreUnavailableError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = (e as { message?: unknown })?.message;
  const text = typeof message === 'string' ? message : String(e);
  if (typeof code === 'string' && FULL.includes(code))
    return new JobStoreUnavailableError(`${what}: PostgreSQL disk full (${code}: ${text})`, 'store-full', code, { cause: e });
  if (
    typeof code === 'string' &&
    (UNAVAILABLE.includes(code) || (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) || UNREACHABLE_CODES.has(code))
  )
    return new JobStoreUnavailableError(`${what}: PostgreSQL unavailable (${code}: ${text})`, 'store-unavailable', code, { cause: e });
  if (typeof code === 'string' && MISCONFIGURED.includes(code))
    return new LensError(`${what}: ${text} (${code}); check jobs.database and the PostgreSQL server's users and databases`, 'store-misconfigured', false, { cause: e });
  if (typeof code !== 'string' && LOST_CONNECTION.test(text))
    return new JobStoreUnavailableError(`${what}: PostgreSQL unavailable (${text})`, 'store-unavailable', 'connection-lost', { cause: e });
  return e;
}
