/**
 * The service's HTTP app in process over a real in-memory SQLite job store, on a free loopback port: what the
 * HTTP tests (API, auth, deployment probes) start. Deployment-specific dependencies are overridden per test.
 */
import type { AddressInfo } from 'node:net';
import { SqliteJobStore } from '../../src/jobs/sqlite-store';
import { createApp, type AppDeps } from '../../src/server/app';
import { ServiceMetrics } from '../../src/server/metrics';

export interface TestApp {
  store: SqliteJobStore;
  base: string;
  port: number;
  close(): Promise<void>;
}

export async function startTestApp(over: Partial<AppDeps> = {}): Promise<TestApp> {
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const server = createApp({
    store,
    metrics: new ServiceMetrics(store),
    webhook: { enabled: true, secret: 'hook-secret' },
    enqueue: (req) => store.enqueue(req),
    readiness: async () => ({ database: { ok: true } }),
    keySlicePng: async () => Buffer.alloc(0),
    ...over,
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  return {
    store,
    base: `http://127.0.0.1:${port}`,
    port,
    async close() {
      // fetch keeps its connections alive: close them, or they hold the jest worker open.
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await store.close();
    },
  };
}
