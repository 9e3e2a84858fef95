/**
 * Nothing is lost when something crashes: the service killed with SIGKILL in the middle of a job finishes it
 * after a restart (one SR, one SEG), and jobs running while Orthanc is down are retried and complete without
 * being dead-lettered. Both are driven by the job's journey (what has happened), not by sleeps: the kill comes
 * once a stage has been recorded, Orthanc comes back once a failed attempt has been recorded.
 */
import path from 'node:path';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { Job, JourneyEvent } from '../../../src/jobs/types';
import { journeyOf } from './kill-journey';
import { storescu } from '../../../src/listener/storescu';
import { api, jobsOf, sendLungCopy, seriesByModality, ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';


let stack: Stack;
let service: ServiceChild;


const succeeded = (uid: string, timeoutMs: number) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), timeoutMs, `success of ${uid}`);

/** The job database as the service left it (opened while the service is down). */
async function jobInDatabase(id: number): Promise<{ job: Job; journey: JourneyEvent[] }> {
  const store = new SqliteJobStore({
    file: stack.config.jobs.database ?? path.join(stack.config.workDir, 'jobs.sqlite'),
    maxAttempts: stack.config.jobs.maxAttempts,
    backoff: { baseSeconds: 1, maxSeconds: 1 },
  });
  try {
    return { job: (await store.get(id))!, journey: await store.journey(id) };
  } finally {
    await store.close();
  }
}

const suite = useServiceStack({
  push: true,
  stableAge: 1,
  config: { jobs: { leaseSeconds: 8, maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 8 } },
});
beforeAll(() => {
  ({ stack, service } = suite);
});

test('SIGKILL in the middle of a job: after a restart the job completes, one SR, one SEG', async () => {
  const uid = await sendLungCopy(stack, 'crash');
  // Series selected: the fetch stage has started (the stages after it take seconds).
  const running = await waitFor(async () => {
    const j = (await jobsOf(stack, uid)).find((x) => x.state === 'running');
    return j && (await journeyOf(stack, j.id)).some((e) => e.event === 'selected') ? j : undefined;
  }, 120000, 'the series to be selected');
  await service.kill('SIGKILL');
  // What the kill interrupted, read from the database the dead service left behind.
  const atKill = await jobInDatabase(running.id);
  const interrupted = atKill.job.state === 'running';
  if (interrupted) {
    expect(atKill.job).toMatchObject({ attempts: 1, leaseOwner: expect.any(String) });
    expect(atKill.journey.map((e) => e.event)).not.toContain('stored');
  } else {
    // The job ran to its end before the signal landed: nothing to take over.
    expect(atKill.job.state).toBe('succeeded');
  }

  await service.start();
  const done = await succeeded(uid, 180000);
  expect(done.id).toBe(running.id);
  const events = (await journeyOf(stack, done.id)).map((e) => e.event);
  if (interrupted) {
    // The new process took the job over once the dead one's lease expired, and ran it to the end.
    expect(done.attempts).toBe(2);
    expect(events.slice(events.indexOf('lease-expired'))).toEqual(expect.arrayContaining(['lease-expired', 'claimed', 'stored']));
  } else {
    expect(done.attempts).toBe(1);
    expect(events).not.toContain('lease-expired');
  }
  // Let the re-announcement caused by our own outputs pass, then count.
  await waitFor(async () => (await jobsOf(stack, uid)).some((j) => j.reason === 'own-output'), 60000, 'own-output skip');
  const series = await seriesByModality(stack, uid);
  expect(series.SR).toHaveLength(1);
  expect(series.SR[0].instances).toBe(1);
  expect((series.SEG ?? []).length).toBe(done.lesionCount! > 0 ? 1 : 0);
  expect((await jobsOf(stack, uid)).filter((j) => j.state === 'succeeded')).toHaveLength(1);
}, 400000);

test('Orthanc down while jobs run: the failed attempt is retried once Orthanc is back, nothing dead-lettered', async () => {
  // A: the real CT, whose analysis takes long enough to be running when Orthanc stops. B, queued behind it
  // (concurrency 1), only has to be analysed after the outage: a small synthetic study.
  const a = await sendLungCopy(stack, 'outage-a');
  const small = await synthStudy(9501, path.join(stack.dir, 'outage-b'), { size: 128, slices: 32 });
  await storescu([small.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  const b = small.studyUID;
  const jobA = await waitFor(async () => (await jobsOf(stack, a)).find((j) => j.state === 'running'), 120000, 'the first job to run');
  await waitFor(async () => (await jobsOf(stack, b)).length > 0, 120000, 'the second job to be queued');
  const jobB = (await jobsOf(stack, b))[0];
  await stack.orthanc.stop();
  // Down until a job has recorded how its attempt failed (whichever reached the PACS first).
  const failure = await waitFor(async () => {
    for (const j of [jobA, jobB]) {
      const e = (await journeyOf(stack, j.id)).find((x) => ['retry', 'error', 'dead'].includes(x.event));
      if (e) return e;
    }
    return undefined;
  }, 180000, 'a job to record a failed attempt');
  await stack.orthanc.launch();
  expect(failure.event).toBe('retry');
  expect(failure.details).toMatchObject({ transient: true });

  const [ja, jb] = await Promise.all([succeeded(a, 240000), succeeded(b, 240000)]);
  expect([ja.id, jb.id]).toEqual([jobA.id, jobB.id]);
  const retried = (await journeyOf(stack, failure.jobId)).filter((e) => e.event === 'retry');
  expect(retried.length).toBeGreaterThan(0);
  expect((await api(stack, '/api/jobs?state=dead')).jobs).toHaveLength(0);
}, 400000);
