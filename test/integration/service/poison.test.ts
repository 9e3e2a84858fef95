/**
 * Poison isolation (issue 11): a study whose analysis kills the service every time is quarantined with its reason
 * after `jobs.poisonAfterDeaths` deaths in one stage, the service runs on, and a study sent after it is analysed.
 *
 * The poison is simulated from outside, honestly and without a hook in the product: the test SIGKILLs the service
 * whenever this study's job enters the detect stage (journey `stage-started`), as a detector exhausting memory on
 * it would, and starts the service again, as a supervisor would. The service cannot tell that death from a real
 * crash: it only knows, from the stage the job had recorded before the kill, where its worker died.
 */
import { journeyOf, killWhenEntering } from './kill-journey';
import { api, jobsOf, sendLungCopy, type ServiceChild, type Stack, useServiceStack, waitFor } from './stack';


let stack: Stack;
let service: ServiceChild;
const suite = useServiceStack({
  push: true,
  stableAge: 1,
  // The lease outlives the time it takes to send the second study: it is queued before the poison study is due again.
  config: { jobs: { leaseSeconds: 15, poisonAfterDeaths: 2, backoffSeconds: 1, maxBackoffSeconds: 4 } },
});
beforeAll(() => {
  ({ stack, service } = suite);
});

test('a study that kills the service in detection is quarantined after two deaths; the study sent after it is analysed', async () => {
  const poison = await sendLungCopy(stack, 'poison');
  const job = await waitFor(async () => (await jobsOf(stack, poison))[0], 120000, 'the poison job');
  const killed = await killWhenEntering(stack, service, job.id, 'detected', 1, 240000);
  // Sent while the poison study waits to be taken up again.
  const good = await sendLungCopy(stack, 'good');
  await waitFor(async () => (await jobsOf(stack, good))[0], 60000, 'the good job');
  await killWhenEntering(stack, service, job.id, 'detected', killed + 1, 300000);

  const quarantined = await waitFor(async () => (await jobsOf(stack, poison)).find((j) => j.state === 'quarantined'), 120000, 'quarantine');
  expect(quarantined).toMatchObject({ id: job.id, reason: 'poison-suspected', deaths: { detected: 2 }, stage: 'detected' });
  expect(quarantined.lastError).toMatch(/died 2 times in stage detected/);
  const events = (await journeyOf(stack, job.id)).map((e) => e.event);
  expect(events.at(-1)).toBe('quarantined');
  expect(events).not.toContain('stored');

  const done = await waitFor(async () => (await jobsOf(stack, good)).find((j) => j.state === 'succeeded'), 300000, 'the good study');
  // The good study did not wait for the poison study's second attempt: it was claimed first.
  const claimedAt = async (id: number) => (await journeyOf(stack, id)).filter((e) => e.event === 'claimed').map((e) => e.at);
  expect((await claimedAt(done.id))[0]).toBeLessThan((await claimedAt(job.id))[1]);

  // The service is up, shows the quarantine in the API and the dashboard, and does not take the job up again.
  expect((await fetch(`${stack.serviceUrl}/healthz`)).ok).toBe(true);
  expect((await api(stack, '/api/jobs?state=quarantined')).jobs.map((j: { id: number }) => j.id)).toEqual([job.id]);
  expect(await api<string>(stack, `/dashboard/jobs/${job.id}`)).toContain('quarantined');
  expect((await jobsOf(stack, poison)).filter((j) => j.state === 'running')).toEqual([]);
}, 900000);
