/**
 * While the PACS does not answer, workers claim nothing and the warning is said once, then summarised; when it
 * answers again the outage's retries are resumed. Clock and probe are in the test's hands; the store is real.
 */
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { RepeatedWarning } from '../../../src/repeated-warning';
import { claimsWhile, PacsAvailability, resumeAfterOutage } from '../../../src/server/pacs-availability';

test('a repeated warning: once, then one summary per minute, then one line for the recovery', () => {
  let now = 0;
  const lines: [string, string, Record<string, unknown>][] = [];
  const w = new RepeatedWarning('change feed poll failed', 60000, () => now, (level, m, meta) => lines.push([level, m, meta]));
  for (now = 0; now < 150000; now += 2000) w.failed('connect ECONNREFUSED');
  expect(lines.map(([level, m]) => `${level} ${m}`)).toEqual([
    'warn change feed poll failed',
    'warn change feed poll failed (still failing)',
    'warn change feed poll failed (still failing)',
  ]);
  expect(lines[1][2]).toMatchObject({ failuresSinceLastLog: 30, failures: 31, failingForSeconds: 60 });
  w.succeeded();
  w.succeeded();
  expect(lines.slice(3).map(([level, m, meta]) => [level, m, meta.failures])).toEqual([['info', 'change feed poll failed: recovered', 75]]);
  expect(w.failing).toBe(false);
});

test('no claims while the PACS is down; when it answers, the retries that failed since it was last up are due now', async () => {
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 600, maxSeconds: 600 } });
  let now = 1000;
  let answering = true;
  const recovered: number[][] = [];
  const pacs = new PacsAvailability({
    everyMs: 1000,
    clock: () => now,
    probe: async () => (answering ? { ok: true } : { ok: false, detail: 'unreachable' }),
    onRecovered: async (failedSince, downForMs, at) => void recovered.push(await resumeAfterOutage(store, failedSince, downForMs, at)),
  });
  const workersStore = claimsWhile(store, () => pacs.up);
  const { job } = await store.enqueue({ studyInstanceUID: '1.2.3', source: 'changes' }, now);
  await pacs.check(); // last known up at 1000
  now = 2000;
  const claimed = (await workersStore.claim('w', 60000, { now }))!;
  expect(claimed.id).toBe(job.id);
  await store.complete(job.id, 'w', { kind: 'failed', reason: 'pacs-unreachable', message: 'refused', transient: true }, now);
  answering = false;
  expect((await pacs.check()).ok).toBe(false);
  expect(pacs.up).toBe(false);
  now = 300000; // a new study arrives during the outage: due, yet not claimed while the PACS is down
  const arrived = (await store.enqueue({ studyInstanceUID: '1.2.4', source: 'changes' }, now)).job;
  expect(await workersStore.claim('w', 60000, { now })).toBeUndefined();
  expect(await workersStore.countByState()).toMatchObject({ 'failed-retrying': 1, queued: 1 });
  answering = true;
  now = 301000;
  await pacs.check();
  expect(pacs.up).toBe(true);
  // The failed job waited for its backoff (until 602000): it is due now.
  expect(recovered).toEqual([[job.id]]);
  expect((await store.get(job.id))!.nextAttemptAt).toBe(301000);
  expect((await store.journey(job.id)).at(-1)).toMatchObject({ event: 'resumed', details: { why: 'the PACS answers again', downForSeconds: 299 } });
  const next = [(await workersStore.claim('w', 60000, { now }))!.id, (await workersStore.claim('w', 60000, { now }))!.id];
  expect(next.sort()).toEqual([job.id, arrived.id]);
  await store.close();
});
