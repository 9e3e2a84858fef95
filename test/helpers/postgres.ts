/**
 * A real PostgreSQL for integration tests: started on a free loopback port in its own temporary folder (socket
 * included), stopped and its folder removed after the suite, also when a test fails. One server per test file;
 * each test takes a fresh database from it (freshDatabase), so tests never see each other's jobs.
 *
 *   const pg = usePostgres();
 *   test('...', async () => { const url = await pg().freshDatabase(); ... });
 */
import pg from 'pg';
import { PostgresProcess } from '../../src/jobs/postgres-process';

export interface TestPostgres {
  server: PostgresProcess;
  /** A new, empty database's URL. */
  freshDatabase(): Promise<string>;
}

/**
 * Empties every table of the database at `url` but the schema's version (quicker than a new database, for suites
 * that open many stores): the store sees an empty, up-to-date database.
 */
export async function emptyTables(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = (await c.query<{ t: string }>(`SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_version'`)).rows;
    if (tables.length) await c.query(`TRUNCATE ${tables.map((r) => r.t).join(', ')} RESTART IDENTITY CASCADE`);
  } finally {
    await c.end();
  }
}

export function usePostgres(): () => TestPostgres {
  let server: PostgresProcess | undefined;
  let n = 0;
  beforeAll(async () => {
    server = await PostgresProcess.start();
  }, 60000);
  afterAll(async () => {
    await server?.dispose();
  }, 30000);
  return () => {
    if (!server) throw new Error('PostgreSQL did not start (see beforeAll)');
    const s = server;
    return { server: s, freshDatabase: () => s.createDatabase(`lens_test_${++n}`) };
  };
}
