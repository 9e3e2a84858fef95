/**
 * Nothing is lost when something crashes: the service killed with SIGKILL in the middle of a job finishes it
 * after a restart (one SR, one SEG), and jobs running while Orthanc is down for 30 s are retried and complete
 * without being dead-lettered.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { api, copyStudy, jobsOf, newUid, seriesByModality, ServiceChild, SHARED_CT, type Stack, useServiceStack, waitFor } from './stack';

const SRC = path.join(SHARED_CT, 'lung-dx-a0001/series3_5mm_kernelB');
const srcFiles = () => fs.readdirSync(SRC).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(SRC, f));

let stack: Stack;
let service: ServiceChild;

async function sendStudy(name: string): Promise<string> {
  const studyUID = newUid();
  const files = await copyStudy(srcFiles(), path.join(stack.dir, 'studies', name), {
    studyUID, seriesUID: newUid(), patientName: `PHANTOM^${name}`, patientID: `PH-${name}`,
  });
  await storescu([path.dirname(files[0])], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  return studyUID;
}

const succeeded = (uid: string, timeoutMs: number) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), timeoutMs, `success of ${uid}`);

const suite = useServiceStack({
  push: true,
  stableAge: 1,
  config: { jobs: { leaseSeconds: 8, maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 8 } },
});
beforeAll(() => {
  ({ stack, service } = suite);
});

test('SIGKILL in the middle of a job: after a restart the job completes, one SR, one SEG', async () => {
  const uid = await sendStudy('crash');
  const running = await waitFor(async () => {
    const j = (await jobsOf(stack, uid)).find((x) => x.state === 'running');
    if (!j) return undefined;
    const { journey } = await api(stack, `/api/jobs/${j.id}`);
    return journey.some((e: { event: string }) => e.event === 'selected') ? (j as Job) : undefined;
  }, 120000, 'the job to be mid-way');
  await service.kill('SIGKILL');
  await service.start();
  const done = await succeeded(uid, 180000);
  expect(done.id).toBe(running.id);
  expect(done.attempts).toBe(2);
  const { journey } = await api(stack, `/api/jobs/${done.id}`);
  expect(journey.map((e: { event: string }) => e.event)).toContain('lease-expired');
  // Let the re-announcement caused by our own outputs pass, then count.
  await waitFor(async () => (await jobsOf(stack, uid)).some((j) => j.reason === 'own-output'), 60000, 'own-output skip');
  const series = await seriesByModality(stack, uid);
  expect(series.SR).toHaveLength(1);
  expect(series.SR[0].instances).toBe(1);
  expect((series.SEG ?? []).length).toBe(done.lesionCount! > 0 ? 1 : 0);
  expect((await jobsOf(stack, uid)).filter((j) => j.state === 'succeeded')).toHaveLength(1);
}, 400000);

test('Orthanc down for 30 s while jobs run: retried and completed, nothing dead-lettered', async () => {
  const a = await sendStudy('outage-a');
  const b = await sendStudy('outage-b');
  await waitFor(async () => (await jobsOf(stack, a)).some((j) => j.state === 'running') && (await jobsOf(stack, b)).length > 0, 120000, 'jobs running');
  await stack.orthanc.stop();
  await new Promise((r) => setTimeout(r, 30000));
  await stack.orthanc.launch();
  const [ja, jb] = await Promise.all([succeeded(a, 240000), succeeded(b, 240000)]);
  const retried = [];
  for (const j of [ja, jb]) {
    const { journey } = await api(stack, `/api/jobs/${j.id}`);
    if (journey.some((e: { event: string }) => e.event === 'retry')) retried.push(j.id);
  }
  expect(retried.length).toBeGreaterThan(0);
  const { jobs } = await api(stack, '/api/jobs?state=dead');
  expect(jobs).toHaveLength(0);
}, 400000);
