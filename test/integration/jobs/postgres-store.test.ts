/**
 * The PostgreSQL job store against a real PostgreSQL (Debian's, started by the test in its own folder): the
 * JobStore contract shared with SQLite, then what only a shared network database shows: several processes'
 * stores claiming at once never lease one job twice, enqueues of one study from several nodes make one job,
 * a leader that stops renewing is replaced, migrations from an empty database (and a newer schema refused), and
 * a database that goes away is reported as JobStoreUnavailableError and used again once it is back.
 */
import pg from 'pg';
import { LensError } from '../../../src/errors';
import { JobStoreUnavailableError } from '../../../src/jobs/errors';
import { SchemaTooNewError } from '../../../src/jobs/migrations';
import { POSTGRES_MIGRATIONS } from '../../../src/jobs/postgres-migrations';
import { PostgresJobStore, type PostgresStoreOptions } from '../../../src/jobs/postgres-store';
import type { Job } from '../../../src/jobs/types';
import { IntakeGate } from '../../../src/server/intake-gate';
import { jobStoreContract } from '../../helpers/job-store-contract';
import { emptyTables, usePostgres } from '../../helpers/postgres';

const postgres = usePostgres();
const backoff = { baseSeconds: 1, maxSeconds: 1 };
const options = (url: string): PostgresStoreOptions => ({ url, maxAttempts: 3, backoff });

const stores: PostgresJobStore[] = [];
async function openStore(o: PostgresStoreOptions): Promise<PostgresJobStore> {
  const s = await PostgresJobStore.open(o);
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('PostgresJobStore: the JobStore contract', () => {
  // One database for the contract, emptied before each store (a new database per test takes longer).
  let url: string | undefined;
  jobStoreContract(async (o) => {
    url ??= await postgres().freshDatabase();
    const store = await PostgresJobStore.open({ url, ...o });
    await emptyTables(url);
    return store;
  });
});

describe('PostgresJobStore: several processes sharing one database', () => {
  test('3 stores (own connection pools) claiming 200 jobs in parallel lease each job exactly once', async () => {
    const url = await postgres().freshDatabase();
    const nodes = await Promise.all([1, 2, 3].map(() => openStore({ ...options(url), poolSize: 4 })));
    await Promise.all(Array.from({ length: 200 }, (_, i) => nodes[i % 3].enqueue({ studyInstanceUID: `9.${i}`, source: 'webhook' })));
    const claimedBy = new Map<number, string[]>();
    // Four claim loops per store, each claiming and completing until nothing is left.
    const loops = nodes.flatMap((store, n) =>
      [0, 1, 2, 3].map(async (k) => {
        const owner = `node${n}-worker${k}`;
        for (let job: Job | undefined; (job = await store.claim(owner, 60000)); ) {
          claimedBy.set(job.id, [...(claimedBy.get(job.id) ?? []), owner]);
          await store.complete(job.id, owner, { kind: 'skipped', reason: 'test', message: 'claimed once' });
        }
      }),
    );
    await Promise.all(loops);
    expect(claimedBy.size).toBe(200);
    expect([...claimedBy.values()].filter((owners) => owners.length !== 1)).toEqual([]);
    // Every store took part: the claims really competed.
    const perNode = [0, 1, 2].map((n) => [...claimedBy.values()].filter(([o]) => o.startsWith(`node${n}-`)).length);
    expect(perNode.every((c) => c > 0)).toBe(true);
    expect(await nodes[0].countByState()).toMatchObject({ skipped: 200, queued: 0, running: 0 });
    const claims = await nodes[1].journey((await nodes[1].list({ limit: 1 }))[0].id);
    expect(claims.filter((e) => e.event === 'claimed')).toHaveLength(1);
  });

  test('the same study announced to 3 nodes at once makes one job', async () => {
    const url = await postgres().freshDatabase();
    const nodes = await Promise.all([1, 2, 3].map(() => openStore(options(url))));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => nodes[i % 3].enqueue({ studyInstanceUID: '7.1', source: i % 2 ? 'changes' : 'webhook' })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect((await nodes[0].journey(results[0].job.id)).filter((e) => e.event === 'received')).toHaveLength(12);
  });

  test('a leader that stops renewing is replaced once its ttl has passed', async () => {
    const url = await postgres().freshDatabase();
    const [a, b] = await Promise.all([openStore(options(url)), openStore(options(url))]);
    expect(await a.acquireLeadership('events', 'node-a', 400)).toBe(true);
    expect(await b.acquireLeadership('events', 'node-b', 400)).toBe(false);
    // node-a dies (stops renewing); node-b keeps trying, as the leader lease loop does.
    let tries = 0;
    while (!(await b.acquireLeadership('events', 'node-b', 400))) {
      tries++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(tries).toBeGreaterThan(0);
    expect(await a.acquireLeadership('events', 'node-a', 400)).toBe(false);
    expect((await a.leaders()).map((l) => l.owner)).toEqual(['node-b']);
  });
});

describe('PostgresJobStore: schema', () => {
  test('an empty database gets every migration once; stores opening it at once all succeed', async () => {
    const url = await postgres().freshDatabase();
    const opened = await Promise.all([1, 2, 3].map(() => openStore(options(url))));
    expect(await opened[0].schemaVersion()).toBe(POSTGRES_MIGRATIONS.length);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect((await c.query('SELECT version FROM schema_version ORDER BY version')).rows).toEqual(POSTGRES_MIGRATIONS.map((m) => ({ version: m.version })));
    } finally {
      await c.end();
    }
    // Opened again: nothing left to migrate, nothing lost.
    await opened[0].enqueue({ studyInstanceUID: '5.1', source: 'manual' });
    const again = await openStore(options(url));
    expect(await again.hasJobForStudy('5.1')).toBe(true);
  });

  test('a database written by a newer lens-pacs is refused with a clear error (no password in it) and left as it was', async () => {
    const url = await postgres().freshDatabase();
    await (await PostgresJobStore.open(options(url))).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, 0)', [POSTGRES_MIGRATIONS.length + 5, 'from the future']);
      const error = await PostgresJobStore.open(options(url)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SchemaTooNewError);
      expect((error as Error).message).toContain(`schema version ${POSTGRES_MIGRATIONS.length + 5}`);
      expect((error as Error).message).toContain(`up to ${POSTGRES_MIGRATIONS.length}`);
      expect((error as Error).message).toContain(`127.0.0.1:${postgres().server.port}`);
      expect((error as Error).message).not.toContain(new URL(url).password);
      expect((await c.query('SELECT MAX(version) AS v FROM schema_version')).rows[0].v).toBe(POSTGRES_MIGRATIONS.length + 5);
    } finally {
      await c.end();
    }
  });
});

describe('PostgresJobStore: a wrong jobs.database', () => {
  test('a wrong password or a database that does not exist is a clear configuration error (not waited for), without the password', async () => {
    const good = new URL(postgres().server.url());
    const wrongPassword = new URL(good);
    wrongPassword.password = 'not-the-password';
    const noDatabase = new URL(good);
    noDatabase.pathname = '/no_such_database';
    for (const [url, says] of [[wrongPassword, /password authentication failed/], [noDatabase, /"no_such_database" does not exist/]] as const) {
      const error = await PostgresJobStore.open(options(url.toString())).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LensError);
      expect(error).not.toBeInstanceOf(JobStoreUnavailableError);
      expect(error).toMatchObject({ reason: 'store-misconfigured', transient: false });
      expect((error as Error).message).toMatch(says);
      expect((error as Error).message).toContain(`127.0.0.1:${postgres().server.port}`);
      expect((error as Error).message).not.toContain(good.password);
      expect((error as Error).message).not.toContain('not-the-password');
    }
  });
});

// Last in the file: it stops the shared server.
describe('PostgresJobStore: the database goes away', () => {
  test('writes reject with JobStoreUnavailableError (the intake gate closes), and work again once it is back', async () => {
    const server = postgres().server;
    const url = await postgres().freshDatabase();
    const store = await openStore(options(url));
    await store.enqueue({ studyInstanceUID: '6.1', source: 'webhook' });
    const gate = new IntakeGate({ store, volumes: [], minFreeBytes: 0, checkEveryMs: 60000 });
    await server.stop();
    const error = await store.enqueue({ studyInstanceUID: '6.2', source: 'webhook' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobStoreUnavailableError);
    expect(error).toMatchObject({ reason: 'store-unavailable', transient: true });
    expect(gate.report(error)).toBe(true);
    expect(gate.state).toMatchObject({ open: false, reason: 'store-unavailable' });
    await expect(store.claim('w', 1000)).rejects.toBeInstanceOf(JobStoreUnavailableError);
    // A store opened while the server is down waits too (the service retries the open).
    await expect(PostgresJobStore.open(options(url))).rejects.toBeInstanceOf(JobStoreUnavailableError);
    await server.launch();
    await gate.check();
    expect(gate.isOpen()).toBe(true);
    expect((await store.enqueue({ studyInstanceUID: '6.2', source: 'webhook' })).created).toBe(true);
    expect(await store.list()).toHaveLength(2);
  });
});
