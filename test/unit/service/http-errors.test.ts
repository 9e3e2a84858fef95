/**
 * Every HTTP error is JSON without a stack trace or a path: malformed and oversized webhook bodies (parsed only
 * after the secret check), unknown routes, array query parameters, non-decimal job ids, a job store that fails
 * (500, no details) or is full (503 with Retry-After, and the intake gate told).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JobStoreUnavailableError } from '../../../src/jobs/errors';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { JobStore } from '../../../src/jobs/types';
import { createApp, type AppDeps } from '../../../src/server/app';
import type { IntakeState } from '../../../src/server/intake-gate';
import { ServiceMetrics } from '../../../src/server/metrics';

const SECRET = 'hook-secret';
let store: SqliteJobStore;
const servers: Server[] = [];

async function serve(over: Partial<AppDeps> = {}): Promise<string> {
  const s = createApp({
    store,
    metrics: new ServiceMetrics(store),
    webhook: { enabled: true, secret: SECRET },
    enqueue: (req) => store.enqueue(req),
    readiness: async () => ({}),
    keySlicePng: async () => Buffer.alloc(0),
    ...over,
  }).listen(0, '127.0.0.1');
  servers.push(s);
  await new Promise((r) => s.once('listening', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(() => {
  store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await store.close();
});

/** The answer must be JSON with an error string, and hold nothing of the server's files or code. */
async function jsonError(r: Response, status: number): Promise<string> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
  const text = await r.text();
  expect(text).not.toMatch(/\/work|\/src\/|node_modules|\bat [\w.<>]+ \(|<html|<pre/i);
  const body = JSON.parse(text) as { error: unknown };
  expect(typeof body.error).toBe('string');
  return body.error as string;
}

const hook = (base: string, body: string, headers: Record<string, string> = { 'X-Lens-Secret': SECRET }) =>
  fetch(`${base}/webhook/orthanc`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('webhook: malformed and oversized bodies answer JSON 400/413; without the secret the body is never parsed', async () => {
  const base = await serve();
  expect(await jsonError(await hook(base, '{"studyInstanceUID": '), 400)).toBe('the body is not valid JSON');
  expect(await jsonError(await hook(base, JSON.stringify({ studyInstanceUID: '1.2', pad: 'x'.repeat(100000) })), 413)).toMatch(/larger than/);
  // The same malformed body with a wrong secret: refused as unauthenticated, not as malformed.
  expect(await jsonError(await hook(base, '{"studyInstanceUID": ', { 'X-Lens-Secret': 'wrong' }), 401)).toMatch(/secret/);
  expect(await jsonError(await hook(base, 'x'.repeat(100000), {}), 401)).toMatch(/secret/);
  expect(await jsonError(await hook(base, '[1,2]'), 400)).toMatch(/JSON object/);
  expect(await jsonError(await hook(base, JSON.stringify({ studyInstanceUID: '1'.repeat(60000) })), 413)).toMatch(/larger/);
  expect(await jsonError(await hook(base, JSON.stringify({ studyInstanceUID: '1'.repeat(65) })), 400)).toMatch(/not a DICOM UID/);
  expect(await jsonError(await hook(base, JSON.stringify({ orthancStudyId: '../../tools/reset' })), 400)).toMatch(/Orthanc study id/);
  expect(await store.list()).toEqual([]);
});

test('API: array and object query parameters, non-decimal ids and unknown routes answer JSON 400/404', async () => {
  const base = await serve();
  expect(await jsonError(await fetch(`${base}/api/jobs?study[]=1&study[]=2`), 400)).toMatch(/study/);
  expect(await jsonError(await fetch(`${base}/api/jobs?state[a]=queued`), 400)).toMatch(/state/);
  expect(await jsonError(await fetch(`${base}/api/jobs?limit=1e2`), 400)).toMatch(/limit/);
  expect(await jsonError(await fetch(`${base}/api/jobs?study=${'1'.repeat(300)}`), 400)).toMatch(/DICOM UID/);
  for (const id of ['0x1', '1e0', '01', '-1'])
    expect(await jsonError(await fetch(`${base}/api/jobs/${id}`), 400)).toMatch(/job id/);
  expect(await jsonError(await fetch(`${base}/dashboard/jobs/0x1`), 400)).toMatch(/job id/);
  expect(await jsonError(await fetch(`${base}/api/jobs/42`), 404)).toBe('no job 42');
  expect(await jsonError(await fetch(`${base}/api/nothing-here`), 404)).toBe('not found');
  expect(await jsonError(await fetch(`${base}/api/jobs/%E0%A4%A`), 400)).toBe('bad request');
  expect(await jsonError(await fetch(`${base}/api/studies/${'1'.repeat(65)}/rerun`, { method: 'POST' }), 400)).toMatch(/DICOM UID/);
});

test('a failing store answers 500 without details; a full one 503 with Retry-After, and the intake gate hears of it', async () => {
  const reported: unknown[] = [];
  const full = new JobStoreUnavailableError('job store: disk full (SQLITE_FULL)', 'store-full', 'SQLITE_FULL');
  const failing = (e: Error) => new Proxy(store, { get: (t, k) => (k === 'list' ? async () => Promise.reject(e) : Reflect.get(t, k)) }) as JobStore;
  const intake = { state: { open: true } as IntakeState, report: (e: unknown) => (reported.push(e), true) };

  let base = await serve({ store: failing(new Error('SQLITE_CORRUPT at /var/lib/lens/jobs.sqlite')), intake });
  expect(await jsonError(await fetch(`${base}/api/jobs`), 500)).toBe('internal error');

  base = await serve({ store: failing(full), intake, enqueue: async () => Promise.reject(full) });
  const r = await fetch(`${base}/api/jobs`);
  expect(r.headers.get('retry-after')).toBe('30');
  expect(await jsonError(r, 503)).toMatch(/cannot take new work/);
  expect(await jsonError(await hook(base, JSON.stringify({ studyInstanceUID: '1.2.3' })), 503)).toMatch(/cannot take new work/);
  expect(reported).toEqual([full, full]);
});

test('while intake is stopped the webhook answers 503 before reading the body, and nothing is stored', async () => {
  const intake = { state: { open: false, reason: 'disk-low', detail: 'store volume has 3 MB free', since: 0 } as IntakeState, report: () => true };
  const base = await serve({ intake });
  const r = await hook(base, JSON.stringify({ studyInstanceUID: '1.2.3.4' }));
  expect(await r.clone().json()).toMatchObject({ reason: 'disk-low' });
  expect(await jsonError(r, 503)).toMatch(/send it again later/);
  expect(await jsonError(await hook(base, '{', { 'X-Lens-Secret': 'wrong' }), 401)).toMatch(/secret/);
  expect(await store.list({ studyInstanceUID: '1.2.3.4' })).toEqual([]);
});
