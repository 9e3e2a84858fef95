/**
 * Outages are waited out, against a real Orthanc: stopped while jobs are queued for longer than the old attempt
 * budget (one attempt here), every job completes once it is back and none is dead; while it is down no job burns
 * attempts and the change-feed failure is logged once, not every poll. Dead jobs are re-driven through the API.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { Job, JourneyEvent } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { api, jobsOf, type ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
let service: ServiceChild;
const suite = useServiceStack({
  push: true,
  stableAge: 1,
  // Old rules would make each job dead after its first failed attempt; the horizon (60 min) keeps it. A failed
  // attempt would wait at least 24 s for its retry (30 s, jitter 20 %), longer than the outage (about 15 s), unless
  // resumed when the PACS answers again.
  config: { jobs: { maxAttempts: 1, backoffSeconds: 30, maxBackoffSeconds: 30, retryHorizonMinutes: 60, pacsProbeSeconds: 1 } },
});
beforeAll(() => ({ stack, service } = suite));

const send = (dirs: string[]) => storescu(dirs, { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
const journey = async (id: number) => (await api<{ journey: JourneyEvent[] }>(stack, `/api/jobs/${id}`)).journey;
const pacsReady = async () => (await fetch(`${stack.serviceUrl}/readyz`).then((r) => r.json()) as { checks: { pacs: { ok: boolean } } }).checks.pacs.ok;
const succeeded = (uid: string) => waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), 240000, `success of ${uid}`);

test('Orthanc stopped while jobs are queued, longer than the old attempt budget: all complete after it returns, none dead', async () => {
  const studies = await Promise.all([9401, 9402].map((seed) => synthStudy(seed, path.join(stack.dir, `outage-${seed}`), { size: 96, slices: 24 })));
  await send(studies.map((s) => s.dir));
  const jobs = await waitFor(async () => {
    const all = await Promise.all(studies.map(async (s) => (await jobsOf(stack, s.studyUID))[0]));
    return all.every(Boolean) ? all : undefined;
  }, 60000, 'both jobs to be queued');
  await stack.orthanc.stop();
  await waitFor(async () => !(await pacsReady()), 30000, 'the service to see the PACS down');
  const attemptsAtStop = (await Promise.all(jobs.map((j) => api<{ job: Job }>(stack, `/api/jobs/${j.id}`)))).map((r) => r.job.attempts);
  // Down for 10 s: the old rules would have ended every job at its first failed attempt (maxAttempts 1).
  await new Promise((r) => setTimeout(r, 10000));
  const during = (await Promise.all(jobs.map((j) => api<{ job: Job }>(stack, `/api/jobs/${j.id}`)))).map((r) => r.job);
  expect(during.map((j) => j.state)).not.toContain('dead');
  // Workers claimed nothing while the PACS was down: at most the attempt in flight at the stop failed.
  during.forEach((j, i) => expect(j.attempts).toBeLessThanOrEqual(attemptsAtStop[i] + 1));
  await stack.orthanc.launch();

  const done = await Promise.all(studies.map((s) => succeeded(s.studyUID)));
  expect(done.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
  expect((await api<{ jobs: Job[] }>(stack, '/api/jobs?state=dead')).jobs).toHaveLength(0);
  // A job whose attempt failed during the outage was resumed when the PACS answered again, not after its backoff,
  // unless the PACS went away in the middle of its own request (pacs-connection-lost: the attempt in flight at the
  // stop). That one counts as a PACS fault and waits its backoff, so that a study that crashes the PACS is never
  // resumed together with the others (docs/service.md, PACS faults).
  for (const j of done) {
    const entries = await journey(j.id);
    const retries = entries.filter((e) => e.event === 'retry');
    const events = entries.map((e) => e.event);
    if (retries.some((e) => e.details?.reason !== 'pacs-connection-lost')) expect(events).toContain('resumed');
  }
  // The change feed failed at every poll (every 0.5 s) during the outage: one warning, one recovery line.
  const out = fs.readFileSync(service.logFile, 'utf8');
  expect(out.match(/"message":"change feed poll failed"/g) ?? []).toHaveLength(1);
  expect(out).toMatch(/"message":"change feed poll failed: recovered"/);
  expect(out).toMatch(/"message":"the PACS does not answer its readiness probe: workers wait for it"/);
}, 400000);

test('dead jobs are re-driven through the API (by reason) and complete', async () => {
  const s = await synthStudy(9403, path.join(stack.dir, 'redrive'), { size: 96, slices: 24 });
  // The study is in the PACS but no job has run it yet: the PACS is stopped before the service may claim it.
  await stack.orthanc.stop();
  await waitFor(async () => !(await pacsReady()), 30000, 'the service to see the PACS down');
  // A job that died under the old rules (a store without a retry horizon, one attempt): made through the store.
  const store = new SqliteJobStore({ file: path.join(stack.config.workDir, 'jobs.sqlite'), maxAttempts: 1, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  try {
    const { job } = await store.enqueue({ studyInstanceUID: s.studyUID, source: 'manual' });
    const claimed = (await store.claim('test', 60000))!;
    expect(claimed.id).toBe(job.id);
    expect((await store.complete(job.id, 'test', { kind: 'failed', reason: 'pacs-unreachable', message: 'refused', transient: true })).state).toBe('dead');
  } finally {
    await store.close();
  }
  await stack.orthanc.launch();
  await send([s.dir]);
  const [dead] = (await api<{ jobs: Job[] }>(stack, '/api/jobs?state=dead')).jobs;
  expect(await api(stack, '/api/jobs/redrive?reason=pacs-http-503', { method: 'POST' })).toEqual({ redriven: 0, jobIds: [] });
  expect(await api(stack, '/api/jobs/redrive?reason=pacs-unreachable', { method: 'POST' })).toEqual({ redriven: 1, jobIds: [dead.id] });
  const done = await succeeded(s.studyUID);
  expect(done.id).toBe(dead.id);
  expect((await journey(done.id)).map((e) => e.event)).toEqual(expect.arrayContaining(['dead', 'redriven', 'stored']));
}, 300000);
