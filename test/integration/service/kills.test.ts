/**
 * Kills never lose a study (issue 11): the whole service SIGKILLed again and again while it analyses a real CT
 * study, more often in one stage than the poison rule's limit (jobs.poisonAfterDeaths 2 here, 3 kills in detect)
 * and more often than maxAttempts (2), ends with the study's job succeeded, never quarantined, and exactly one SR
 * and one SEG in Orthanc. Nobody saw why the service went away (its lease expired): each such attempt is recorded
 * as worker-lost and counted neither as a death nor as an attempt. (Deaths of the analysis process that the
 * service observes are what the poison rule counts: poison.test.ts.) A service killed after its STOW-RS leaves a
 * stored report behind: the job taken up again finds it and completes with those outputs, without analysing again.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import type { Job, JourneyEvent } from '../../../src/jobs/types';
import { journeyOf, killWhenEntering } from './kill-journey';
import { jobsOf, sendLungCopy, seriesByModality, type ServiceChild, type Stack, useServiceStack, waitFor } from './stack';


let stack: Stack;
let service: ServiceChild;
const suite = useServiceStack({
  push: true,
  stableAge: 1,
  config: { jobs: { leaseSeconds: 5, maxAttempts: 2, poisonAfterDeaths: 2, backoffSeconds: 1, maxBackoffSeconds: 4 } },
});
beforeAll(() => {
  ({ stack, service } = suite);
});

const succeeded = (uid: string, timeoutMs: number) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), timeoutMs, `success of ${uid}`);

/** The stage each attempt had entered when its service was killed, read from the journey. */
function stagesAtDeath(journey: JourneyEvent[]): string[] {
  const out: string[] = [];
  let stage = 'claimed';
  for (const e of journey) {
    if (e.event === 'claimed') stage = 'claimed';
    if (e.event === 'stage-started') stage = String(e.details?.stage);
    if (e.event === 'lease-expired') out.push(stage);
  }
  return out;
}

/**
 * Exactly one SR and (when there are lesions) one SEG, each one instance, once our own re-announcement passed (when
 * the last attempt stored them; one that found them already stored wrote nothing, and the announcement of the
 * killed attempt's STOW-RS may have joined the job while it was still active).
 */
async function expectOneReport(uid: string, done: Job, storedByLastAttempt: boolean): Promise<void> {
  if (storedByLastAttempt) await waitFor(async () => (await jobsOf(stack, uid)).some((j) => j.reason === 'own-output'), 60000, 'own-output skip');
  const series = await seriesByModality(stack, uid);
  expect(series.SR).toEqual([{ uid: done.outputs!.srSeriesUID, instances: 1 }]);
  expect(series.SEG ?? []).toEqual(done.lesionCount! > 0 ? [{ uid: done.outputs!.segSeriesUID, instances: 1 }] : []);
  expect((await jobsOf(stack, uid)).filter((j) => j.state === 'succeeded')).toHaveLength(1);
}

let study: string;
let first: Job;

test('killed three times in detect (over the poison limit of two): taken up after each kill, succeeds, one SR and one SEG', async () => {
  study = await sendLungCopy(stack, 'KILLS');
  const job = await waitFor(async () => (await jobsOf(stack, study))[0], 120000, 'the job');
  let attempt = 1;
  for (let i = 0; i < 3; i++) attempt = (await killWhenEntering(stack, service, job.id, 'detected', attempt, 240000)) + 1;

  first = await succeeded(study, 240000);
  expect(first.id).toBe(job.id);
  const journey = await journeyOf(stack, job.id);
  const events = journey.map((e) => e.event);
  expect(events).not.toContain('dead');
  expect(events).not.toContain('quarantined');
  // Three lost services in detect (it runs for seconds; the kill comes within a poll of its start), recorded as
  // worker-lost and counted nowhere: no deaths, and four attempts are within maxAttempts 2 because only the last
  // one was finished by a worker.
  expect(stagesAtDeath(journey)).toEqual(['detected', 'detected', 'detected']);
  expect(journey.filter((e) => e.event === 'lease-expired').map((e) => e.details?.reason)).toEqual(['worker-lost', 'worker-lost', 'worker-lost']);
  expect(first.deaths).toEqual({});
  expect(first.attempts).toBe(4);
  const last = events.slice(events.lastIndexOf('lease-expired'));
  if (last.includes('already-stored')) expect(last).not.toContain('detected');
  else expect(last).toEqual(expect.arrayContaining(['detected', 'stored']));
  await expectOneReport(study, first, !last.includes('already-stored'));
}, 900000);

test('a job whose service was killed after storing its report is completed from the PACS, without analysis', async () => {
  expect(first?.state).toBe('succeeded');
  await service.kill('SIGKILL');
  // What a worker killed right after its STOW-RS leaves in the job store: the job running in stage `stored`, its
  // lease gone stale, no outputs recorded. (The PACS holds the report: the previous test stored it.)
  const db = new Database(stack.config.jobs.database ?? path.join(stack.config.workDir, 'jobs.sqlite'));
  try {
    db.prepare(
      `UPDATE jobs SET state = 'running', stage = 'stored', lease_owner = 'killed', lease_expires_at = 1, outputs = NULL, lesion_count = NULL,
       lesions = NULL, idempotency_key = NULL, finished_at = NULL WHERE id = ?`,
    ).run(first.id);
  } finally {
    db.close();
  }
  await service.start();
  const done = await waitFor(async () => (await jobsOf(stack, study)).find((j) => j.id === first.id && j.state === 'succeeded'), 120000, 'the job again');
  expect(done).toMatchObject({
    attempts: first.attempts + 1,
    deaths: {},
    lesionCount: first.lesionCount,
    idempotencyKey: first.idempotencyKey,
    outputs: first.outputs,
  });
  const journey = await journeyOf(stack, first.id);
  const after = journey.slice(journey.map((e) => e.event).lastIndexOf('lease-expired')).map((e) => e.event);
  expect(after).toEqual(['lease-expired', 'claimed', 'stage-started', 'selected', 'already-stored']);
  expect(journey.at(-1)?.details).toMatchObject({ srSopInstanceUID: first.outputs!.srSopInstanceUID, lesions: first.lesionCount });
  const series = await seriesByModality(stack, study);
  expect(series.SR).toEqual([{ uid: first.outputs!.srSeriesUID, instances: 1 }]);
  expect(series.SEG ?? []).toHaveLength(first.lesionCount! > 0 ? 1 : 0);
}, 300000);
