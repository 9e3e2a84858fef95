/**
 * The one place that turns `jobs.database` into a JobStore: a postgres:// (or postgresql://) URL opens the
 * PostgreSQL store shared by several nodes; anything else is the file of the embedded SQLite store.
 */
import { isPostgresUrl, PostgresJobStore, redactDatabaseUrl } from './postgres-store';
import { SqliteJobStore, type SqliteStoreOptions } from './sqlite-store';
import type { JobStore } from './types';

/** The life-cycle rules every store is opened with (attempts, backoff, poison rule). */
export type JobStorePolicy = Omit<SqliteStoreOptions, 'file'>;

/** Opens (and migrates) the store; rejects with JobStoreUnavailableError while it cannot be reached or written. */
export async function openJobStore(database: string, policy: JobStorePolicy): Promise<JobStore> {
  return isPostgresUrl(database) ? PostgresJobStore.open({ url: database, ...policy }) : new SqliteJobStore({ file: database, ...policy });
}

/** Whether `database` is a network store (several nodes; no local folder of its own to watch). */
export function isNetworkStore(database: string): boolean {
  return isPostgresUrl(database);
}

/** The store's location for logs, health and the API: the file, or the URL without its password. */
export function describeJobStore(database: string): string {
  return isPostgresUrl(database) ? redactDatabaseUrl(database) : database;
}
