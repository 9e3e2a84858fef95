/**
 * The service's HTTP surface in process, over a real SQLite job store, on a free loopback port: the webhook's
 * shared secret, the optional API token for the API and the dashboard, re-running a study, health and metrics.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { createApp } from '../../../src/server/app';
import { ServiceMetrics } from '../../../src/server/metrics';
import { startTestApp, type TestApp } from '../../helpers/test-app';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
let app: TestApp;
let base: string;
let store: SqliteJobStore;
const auth = { Authorization: 'Bearer api-token-1' };

beforeAll(async () => {
  app = await startTestApp({ apiToken: 'api-token-1' });
  ({ base, store } = app);
});

afterAll(() => app.close());

const post = (p: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('the webhook requires the shared secret and enqueues the study', async () => {
  expect((await post('/webhook/orthanc', { studyInstanceUID: STUDY })).status).toBe(401);
  expect((await post('/webhook/orthanc', { studyInstanceUID: STUDY }, { 'X-Lens-Secret': 'wrong' })).status).toBe(401);
  const ok = await post('/webhook/orthanc', { studyInstanceUID: STUDY }, { 'X-Lens-Secret': 'hook-secret' });
  expect(ok.status).toBe(202);
  expect(await ok.json()).toMatchObject({ created: true });
  expect((await post('/webhook/orthanc', { studyInstanceUID: 'not a uid' }, { 'X-Lens-Secret': 'hook-secret' })).status).toBe(400);
});

test('with server.apiToken the API and the dashboard need the token; /healthz does not', async () => {
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  for (const p of ['/api/jobs', '/dashboard', '/metrics']) {
    // The dashboard sends a browser to the login page (auth.ts; test/unit/service/auth.test.ts).
    const refused = p === '/dashboard' ? 303 : 401;
    expect((await fetch(base + p, { redirect: 'manual' })).status).toBe(refused);
    expect((await fetch(base + p, { redirect: 'manual', headers: { Authorization: 'Bearer wrong' } })).status).toBe(refused);
    expect((await fetch(base + p, { headers: auth })).status).toBe(200);
  }
});

test('jobs are listed with filters, shown with their journey, and a study can be re-run', async () => {
  type JobList = { jobs: { studyInstanceUID: string; state: string }[]; counts: Record<string, number> };
  const queued = (await (await fetch(`${base}/api/jobs?state=queued`, { headers: auth })).json()) as JobList;
  expect(queued.jobs).toEqual([expect.objectContaining({ studyInstanceUID: STUDY, state: 'queued' })]);
  expect(queued.counts.queued).toBe(1);
  const dead = (await (await fetch(`${base}/api/jobs?state=dead`, { headers: auth })).json()) as JobList;
  expect(dead.jobs).toHaveLength(0);

  expect((await post(`/api/studies/${STUDY}/rerun`, {})).status).toBe(401);
  expect((await post('/api/studies/not-a-uid/rerun', {}, auth)).status).toBe(400);
  const rerun = await post(`/api/studies/${STUDY}/rerun`, {}, auth);
  expect(rerun.status).toBe(202);
  const { jobId } = (await rerun.json()) as { jobId: number };
  const detail = (await (await fetch(`${base}/api/jobs/${jobId}`, { headers: auth })).json()) as { job: { studyInstanceUID: string }; journey: { event: string }[] };
  expect(detail.job.studyInstanceUID).toBe(STUDY);
  expect(detail.journey.map((e) => e.event)).toContain('received');
  const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
  expect(metrics).toMatch(/lens_/);
});

test('jobs show their kind and can be filtered by it; an unknown kind is refused', async () => {
  type JobList = { jobs: { kind: string; studyInstanceUID?: string; payload: Record<string, unknown> }[] };
  const harvest = await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { from: '20240101' } });
  const list = async (q: string) => (await (await fetch(`${base}/api/jobs${q}`, { headers: auth })).json()) as JobList;
  const studies = await list('?kind=study-analysis');
  expect(studies.jobs.length).toBeGreaterThan(0);
  expect(studies.jobs.every((j) => j.kind === 'study-analysis' && j.studyInstanceUID === STUDY)).toBe(true);
  expect((await list('?kind=harvest-run')).jobs).toEqual([expect.objectContaining({ kind: 'harvest-run', payload: { from: '20240101' } })]);
  expect((await list('')).jobs.map((j) => j.kind)).toEqual(expect.arrayContaining(['study-analysis', 'harvest-run']));
  expect((await fetch(`${base}/api/jobs?kind=nightly`, { headers: auth })).status).toBe(400);
  const page = await (await fetch(`${base}/dashboard/jobs/${harvest.job.id}`, { headers: auth })).text();
  // A harvest run's page is the dashboard's harvest page.
  expect(page).toContain(`Run #${harvest.job.id}`);
  // A harvest run has no lesions to picture.
  expect((await fetch(`${base}/dashboard/jobs/${harvest.job.id}/lesions/1.png`, { headers: auth })).status).toBe(404);
});

test('a job store that fails answers 500 in JSON without its details, instead of leaving the request hanging', async () => {
  const broken = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  await broken.close();
  const app = createApp({
    store: broken,
    metrics: new ServiceMetrics(broken),
    webhook: { enabled: true, secret: 'hook-secret' },
    enqueue: (req) => broken.enqueue(req),
    readiness: async () => ({}),
    keySlicePng: async () => Buffer.alloc(0),
  });
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  try {
    const r = await fetch(`${url}/api/jobs`);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: 'internal error' });
    const hook = await fetch(`${url}/webhook/orthanc`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'X-Lens-Secret': 'hook-secret' }, body: JSON.stringify({ studyInstanceUID: STUDY }),
    });
    expect(hook.status).toBe(500);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  } finally {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

test('re-drive of dead jobs: token required, the reason checked, the jobs re-driven named', async () => {
  expect((await post('/api/jobs/redrive', {})).status).toBe(401);
  expect((await post('/api/jobs/redrive?reason=DROP%20TABLE', {}, auth)).status).toBe(400);
  const other = '1.2.826.0.1.3680043.8.498.77';
  const { job } = await store.enqueue({ studyInstanceUID: other, source: 'manual' });
  // Three failed attempts (maxAttempts 3, no retry horizon in this store): dead.
  for (let i = 0; i < 3; i++) {
    let claimed;
    while ((claimed = await store.claim('w', 1000, { now: Date.now() + 3600000 * (i + 1) }))!.id !== job.id)
      await store.complete(claimed!.id, 'w', { kind: 'skipped', reason: 'test', message: 'not this one' });
    await store.complete(job.id, 'w', { kind: 'failed', reason: 'pacs-http-503', message: 'busy', transient: true }, Date.now() + 3600000 * (i + 1));
  }
  expect((await store.get(job.id))!.state).toBe('dead');
  expect(await (await post('/api/jobs/redrive?reason=pacs-unreachable', {}, auth)).json()).toEqual({ redriven: 0, jobIds: [] });
  const r = await post('/api/jobs/redrive', {}, auth);
  expect(r.status).toBe(202);
  expect(await r.json()).toEqual({ redriven: 1, jobIds: [job.id] });
  expect((await store.get(job.id))!.state).toBe('queued');
});
