/**
 * With the push disabled, the change feed alone finds every study: one analysis with SR and SEG once, a durable
 * cursor across a restart (a study sent while the service was down is analysed, nothing earlier is replayed),
 * and 20 studies arriving together are all analysed exactly once, visible in /api/jobs and /metrics.
 */
import path from 'node:path';
import { storescu } from '../../../src/listener/storescu';
import { ACTIVE_STATES } from '../../../src/jobs/types';
import { api, jobsOf, orthancStudyStable, seriesByModality, ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
let service: ServiceChild;

const suite = useServiceStack({ push: false, stableAge: 1, config: { jobs: { concurrency: 2 } } });
beforeAll(() => {
  ({ stack, service } = suite);
});

const send = (dirs: string[]) => storescu(dirs, { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
// What is analysed does not matter here, only that each study is found once: small studies.
const SMALL = { size: 64, slices: 24 };
const succeeded = (uid: string, timeoutMs = 120000) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), timeoutMs, `success of ${uid}`);

let first: string;

test('the change feed alone: a CT is analysed, SR and SEG stored once', async () => {
  const s = await synthStudy(9101, path.join(stack.dir, 'cf-1'), SMALL);
  first = s.studyUID;
  await send([s.dir]);
  const job = await succeeded(s.studyUID);
  expect(job.source).toBe('changes');
  await waitFor(async () => (await jobsOf(stack, s.studyUID)).some((j) => j.reason === 'own-output'), 60000, 'own-output skip');
  const series = await seriesByModality(stack, s.studyUID);
  expect(series.SR).toEqual([{ uid: job.outputs!.srSeriesUID, instances: 1 }]);
  expect((series.SEG ?? []).length).toBe(job.lesionCount! > 0 ? 1 : 0);
}, 180000);

test('the cursor is durable: a study sent while the service is down is analysed after the restart, nothing replayed', async () => {
  await service.kill('SIGTERM');
  const s = await synthStudy(9102, path.join(stack.dir, 'cf-2'), SMALL);
  await send([s.dir]);
  // Orthanc declares it stable (StableStudy in the feed) while nobody listens.
  await waitFor(() => orthancStudyStable(stack, s.studyUID), 30000, 'the study to become stable in Orthanc');
  await service.start();
  const job = await succeeded(s.studyUID);
  expect(job.source).toBe('changes');
  const firstJobs = await jobsOf(stack, first);
  expect(firstJobs.filter((j) => j.state === 'succeeded')).toHaveLength(1);
  expect(firstJobs.every((j) => j.createdAt < job.createdAt)).toBe(true);
}, 180000);

test('20 studies arriving together: all analysed, each once; /api/jobs and /metrics show it', async () => {
  const studies = await Promise.all(Array.from({ length: 20 }, (_, i) => synthStudy(9200 + i, path.join(stack.dir, `burst-${i}`), SMALL)));
  await send(studies.map((s) => s.dir));
  for (const s of studies) await succeeded(s.studyUID, 600000);
  for (const s of studies) {
    // Our own SR/SEG make Orthanc announce the study again: that job is skipped, but may still be queued or running.
    const jobs = await waitFor(async () => {
      const js = await jobsOf(stack, s.studyUID);
      return js.every((j) => !ACTIVE_STATES.includes(j.state)) && js;
    }, 60000, `the jobs of burst study ${s.studyUID} settled`);
    expect(jobs.filter((j) => j.state === 'succeeded')).toHaveLength(1);
    expect(jobs.every((j) => j.state === 'succeeded' || j.state === 'skipped')).toBe(true);
    const series = await seriesByModality(stack, s.studyUID);
    expect(series.SR).toHaveLength(1);
  }
  const { counts } = await api(stack, '/api/jobs?limit=1');
  expect(counts.succeeded).toBe(22);
  expect(counts.dead + counts.failed).toBe(0);
  const metrics = await api<string>(stack, '/metrics');
  expect(metrics).toContain('lens_jobs{state="succeeded"} 22');
  expect(metrics).toMatch(/lens_detection_seconds_count \d+/);
}, 700000);
