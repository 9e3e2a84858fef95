/**
 * Poison isolation (issue 11): a study whose analysis exhausts the memory of its analysis process is quarantined
 * with the cause named after `jobs.poisonAfterDeaths` deaths in one stage, while the service itself stays up (the
 * same process throughout) and analyses a study sent after it.
 *
 * A real poison, no hook in the product: every slice of the study carries a 2 MB text element (TextValue), which
 * the PACS returns inline in the series metadata; 32 of them are more than the analysis process's heap ceiling
 * (jobs.analysisMemoryMb 64 here; an ordinary study needs less than 48) can hold, so V8 aborts the process while
 * it reads the metadata. The service sees the child die, names the cause, and counts the death.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { storescu } from '../../../src/listener/storescu';
import { journeyOf } from './kill-journey';
import { api, jobsOf, type ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
let service: ServiceChild;
const suite = useServiceStack({
  push: true,
  stableAge: 1,
  // Orthanc takes seconds to write the poison's 64 MB of metadata while it also serves the other study: a long
  // request timeout keeps the attempts to what the test is about.
  config: { jobs: { poisonAfterDeaths: 2, backoffSeconds: 1, maxBackoffSeconds: 4, analysisMemoryMb: 64 }, pacs: { timeoutMs: 120000 } },
});
beforeAll(() => {
  ({ stack, service } = suite);
});

/** A small synthetic study whose every slice holds a 2 MB TextValue (DCMTK's dcmodify). */
async function sendPoison(): Promise<string> {
  const study = await synthStudy(9401, path.join(stack.dir, 'poison'), { size: 64, slices: 32 });
  const text = path.join(stack.dir, 'text.txt');
  fs.writeFileSync(text, 'POISON! '.repeat(2 ** 18));
  execFileSync('dcmodify', ['-nb', '-i', '(0040,a160)=x', ...study.files]);
  execFileSync('dcmodify', ['-nb', '-mf', `(0040,a160)=${text}`, ...study.files]);
  await storescu([study.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  return study.studyUID;
}

test('a study that exhausts its analysis process is quarantined with the cause after two deaths; the service stays up and the next study is analysed', async () => {
  const pid = service.pid;
  const poison = await sendPoison();
  const job = await waitFor(async () => (await jobsOf(stack, poison)).find((j) => j.attempts >= 1 && j.reason === 'out-of-memory'), 240000, 'the first death');
  // Sent while the poison study waits for its second attempt.
  // Only its analysis matters, not what it holds: a small study.
  const good = await synthStudy(9402, path.join(stack.dir, 'good'), { size: 64, slices: 24 });
  await storescu([good.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });

  const quarantined = await waitFor(async () => (await jobsOf(stack, poison)).find((j) => j.state === 'quarantined'), 300000, 'quarantine');
  expect(quarantined).toMatchObject({ id: job.id, reason: 'poison-suspected' });
  const [stage, deaths] = Object.entries(quarantined.deaths ?? {})[0] ?? [];
  expect(quarantined.deaths).toEqual({ [stage]: 2 });
  expect(quarantined.lastError).toMatch(new RegExp(`died 2 times in stage ${stage} \\(last: the analysis process ran out of memory \\(heap limit 64 MB\\) in stage ${stage}\\)`));
  expect(deaths).toBe(2);
  const journey = await journeyOf(stack, job.id);
  expect(journey.map((e) => e.event)).not.toContain('lease-expired');
  expect(journey.map((e) => e.event)).not.toContain('stored');
  const deathEvents = journey.filter((e) => e.details?.died);
  expect(deathEvents.map((e) => [e.event, e.details?.reason ?? '', e.details?.stage])).toEqual([
    ['retry', 'out-of-memory', stage],
    ['quarantined', 'poison-suspected', stage],
  ]);

  const done = await waitFor(async () => (await jobsOf(stack, good.studyUID)).find((j) => j.state === 'succeeded'), 300000, 'the good study');
  // Analysed at its first attempt (the journey shown if not).
  const goodJourney = (await journeyOf(stack, done.id)).filter((e) => e.event !== 'received');
  expect({ attempts: done.attempts, journey: goodJourney }).toMatchObject({ attempts: 1 });
  // One service process throughout: the deaths were its analysis process's, observed, never its own.
  expect(service.pid).toBe(pid);
  expect((await fetch(`${stack.serviceUrl}/healthz`)).ok).toBe(true);
  expect((await api(stack, '/api/jobs?state=quarantined')).jobs.map((j: { id: number }) => j.id)).toEqual([job.id]);
  expect(await api<string>(stack, `/dashboard/jobs/${job.id}`)).toContain('quarantined');
  expect(service.output()).toMatch(/"message":"analysis process died"/);
}, 900000);
