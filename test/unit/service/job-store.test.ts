import { backoffMs } from '../../../src/jobs/backoff';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { afterCompletion, canTransition, isClaimable } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';

const policy = { baseSeconds: 10, maxSeconds: 100 };
const ok: JobCompletion = {
  kind: 'succeeded', outputs: { srSopInstanceUID: '1.2.3' }, lesions: [], timingsMs: { detected: 5 }, idempotencyKey: '1|2|m', seriesInstanceUID: '2', modelVersion: 'm',
};
const transient: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'down', transient: true };

describe('backoff', () => {
  test('doubles per attempt and is capped', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, policy))).toEqual([10000, 20000, 40000, 80000, 100000]);
  });
  test('jitter stays within its fraction', () => {
    expect(backoffMs(1, { ...policy, jitter: 0.2 }, () => 0)).toBe(8000);
    expect(backoffMs(1, { ...policy, jitter: 0.2 }, () => 1)).toBe(12000);
  });
});

describe('state machine', () => {
  test('transient failures retry until maxAttempts, then dead', () => {
    expect(afterCompletion({ attempts: 1, maxAttempts: 3 }, transient, policy, 0)).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000 });
    const dead = afterCompletion({ attempts: 3, maxAttempts: 3 }, transient, policy, 0);
    expect(dead.state).toBe('dead');
    expect(dead.lastError).toMatch(/gave up after 3 attempts: down/);
  });
  test('permanent failures fail at once; skips keep their reason', () => {
    expect(afterCompletion({ attempts: 1, maxAttempts: 5 }, { kind: 'failed', reason: 'volume-invalid', message: 'gap', transient: false }, policy, 0).state).toBe('failed');
    expect(afterCompletion({ attempts: 1, maxAttempts: 5 }, { kind: 'skipped', reason: 'no-ct', message: 'MR only' }, policy, 0)).toMatchObject({ state: 'skipped', reason: 'no-ct' });
  });
  test('final states have no way out', () => {
    for (const s of ['succeeded', 'skipped', 'failed', 'dead'] as const) expect(canTransition(s, 'running')).toBe(false);
    expect(canTransition('queued', 'running')).toBe(true);
    expect(canTransition('queued', 'succeeded')).toBe(false);
  });
  test('claimable: due queued/retrying jobs and running jobs with an expired lease', () => {
    expect(isClaimable({ state: 'queued', nextAttemptAt: 5 }, 10)).toBe(true);
    expect(isClaimable({ state: 'failed-retrying', nextAttemptAt: 15 }, 10)).toBe(false);
    expect(isClaimable({ state: 'running', nextAttemptAt: 0, leaseExpiresAt: 9 }, 10)).toBe(true);
    expect(isClaimable({ state: 'running', nextAttemptAt: 0, leaseExpiresAt: 11 }, 10)).toBe(false);
  });
});

describe('SqliteJobStore', () => {
  let store: SqliteJobStore;
  beforeEach(() => {
    store = new SqliteJobStore({ file: ':memory:', maxAttempts: 2, backoff: policy });
  });
  afterEach(() => store.close());

  test('enqueue is idempotent per study while a job is active', async () => {
    const a = await store.enqueue({ studyInstanceUID: '1.2', source: 'webhook' }, 0);
    const b = await store.enqueue({ studyInstanceUID: '1.2', source: 'changes' }, 1);
    expect(a.created).toBe(true);
    expect(a.job).toMatchObject({ kind: 'study-analysis', studyInstanceUID: '1.2', payload: {} });
    expect(b.created).toBe(false);
    expect(b.job.id).toBe(a.job.id);
    expect((await store.journey(a.job.id)).map((e) => e.event)).toEqual(['received', 'received']);
    const claimed = (await store.claim('w1', 1000, { now: 2 }))!;
    await store.complete(claimed.id, 'w1', ok, 3);
    expect((await store.enqueue({ studyInstanceUID: '1.2', source: 'changes' }, 4)).created).toBe(true);
  });

  test('one job is leased to one worker; an expired lease is taken over; worker deaths do not use up its attempts', async () => {
    const { job } = await store.enqueue({ studyInstanceUID: '1.3', source: 'manual' }, 0);
    expect((await store.claim('w1', 100, { now: 0 }))?.id).toBe(job.id);
    expect(await store.claim('w2', 100, { now: 50 })).toBeUndefined();
    expect(await store.renewLease(job.id, 'w1', 100, 50)).toBe(true);
    const taken = (await store.claim('w2', 100, { now: 151 }))!;
    expect(taken).toMatchObject({ id: job.id, leaseOwner: 'w2', attempts: 2 });
    expect(await store.renewLease(job.id, 'w1', 100, 152)).toBe(false);
    await expect(store.complete(job.id, 'w1', ok, 153)).rejects.toThrow(/no longer leased/);
    // w2 dies too: with maxAttempts 2 the job is still taken up (deaths are not failed attempts; see poison.test.ts).
    expect(await store.claim('w3', 100, { now: 300 })).toMatchObject({ id: job.id, leaseOwner: 'w3', attempts: 3, deaths: { claimed: 2 } });
    expect((await store.journey(job.id)).map((e) => e.event)).toEqual(['received', 'claimed', 'lease-expired', 'claimed', 'lease-expired', 'claimed']);
  });

  test('transient failure waits for its backoff, then runs again and can succeed', async () => {
    const { job } = await store.enqueue({ studyInstanceUID: '1.4', source: 'changes' }, 0);
    await store.claim('w', 1000, { now: 0 });
    expect(await store.complete(job.id, 'w', transient, 0)).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000, lastError: 'down' });
    expect((await store.countByState())['failed-retrying']).toBe(1);
    expect(await store.claim('w', 1000, { now: 9999 })).toBeUndefined();
    expect((await store.claim('w', 1000, { now: 10000 }))?.attempts).toBe(2);
    const done = await store.complete(job.id, 'w', ok, 10001);
    expect(done).toMatchObject({ state: 'succeeded', lesionCount: 0, idempotencyKey: '1|2|m' });
    expect((await store.findSucceeded('1|2|m'))?.id).toBe(job.id);
  });

  test('list filters, cursors persist', async () => {
    await store.enqueue({ studyInstanceUID: '1.5', source: 'poll' });
    await store.enqueue({ studyInstanceUID: '1.6', source: 'poll' });
    expect(await store.list({ studyInstanceUID: '1.6' })).toHaveLength(1);
    expect(await store.list({ state: 'queued', limit: 1 })).toHaveLength(1);
    expect(await store.hasJobForStudy('1.5')).toBe(true);
    expect(await store.hasJobForStudy('1.7')).toBe(false);
    expect(await store.getCursor('x')).toBeUndefined();
    await store.setCursor('x', '12');
    await store.setCursor('x', '13');
    expect(await store.getCursor('x')).toBe('13');
    expect(await store.ping()).toBe(true);
  });

  test('jobs of another kind: their own payload, no study, never merged, claimed only by workers that run the kind', async () => {
    const study = await store.enqueue({ studyInstanceUID: '1.8', source: 'manual' }, 0);
    const h1 = await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { from: '20240101', to: '20240131' } }, 1);
    const h2 = await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { from: '20240101', to: '20240131' } }, 2);
    expect([h1.created, h2.created]).toEqual([true, true]);
    expect(h1.job).toMatchObject({ kind: 'harvest-run', payload: { from: '20240101', to: '20240131' }, state: 'queued' });
    expect(h1.job.studyInstanceUID).toBeUndefined();
    expect((await store.list({ kind: 'harvest-run' })).map((j) => j.id)).toEqual([h2.job.id, h1.job.id]);
    expect((await store.list({ kind: 'study-analysis' })).map((j) => j.id)).toEqual([study.job.id]);
    // A worker that only analyses studies leaves the harvest runs queued, although they are due.
    expect((await store.claim('w', 1000, { kinds: ['study-analysis'], now: 10 }))?.id).toBe(study.job.id);
    expect(await store.claim('w', 1000, { kinds: ['study-analysis'], now: 10 })).toBeUndefined();
    expect(await store.claim('w', 1000, { kinds: [], now: 10 })).toBeUndefined();
    const h = (await store.claim('w', 1000, { kinds: ['harvest-run'], now: 10 }))!;
    expect(h).toMatchObject({ id: h1.job.id, kind: 'harvest-run', state: 'running' });
    // Study-analysis idempotency never finds a harvest run.
    await store.complete(h.id, 'w', { ...ok, idempotencyKey: 'k' }, 11);
    expect(await store.findSucceeded('k')).toBeUndefined();
  });
});

describe('the same event from two sources', () => {
  test('push and change feed moments apart make one job; a later event makes a new one', async () => {
    const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 2, backoff: policy });
    const a = await store.enqueue({ studyInstanceUID: '2.1', source: 'webhook', mergeWithinMs: 2000 }, 0);
    const claimed = (await store.claim('w', 1000, { now: 10 }))!;
    await store.complete(claimed.id, 'w', { kind: 'skipped', reason: 'own-output', message: 'ours' }, 20);
    const b = await store.enqueue({ studyInstanceUID: '2.1', source: 'changes', mergeWithinMs: 2000 }, 1500);
    expect(b).toMatchObject({ created: false, job: { id: a.job.id } });
    const c = await store.enqueue({ studyInstanceUID: '2.1', source: 'webhook', mergeWithinMs: 2000 }, 1600);
    expect(c.created).toBe(true);
    await store.complete((await store.claim('w', 1000, { now: 1700 }))!.id, 'w', { kind: 'skipped', reason: 'own-output', message: 'ours' }, 1800);
    expect((await store.enqueue({ studyInstanceUID: '2.1', source: 'changes', mergeWithinMs: 2000 }, 9000)).created).toBe(true);
    await store.close();
  });
});
