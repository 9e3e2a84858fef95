/**
 * The JobStore contract: the behaviour every store (SQLite, PostgreSQL) must show, as one suite run against each
 * (test/unit/jobs/sqlite-store.test.ts, test/integration/jobs/postgres-store.test.ts). Times are passed
 * explicitly, so that leases, backoff and leadership expire without waiting.
 *
 *   describe('SqliteJobStore', () => jobStoreContract((o) => Promise.resolve(new SqliteJobStore({ file: ':memory:', ...o }))));
 */
import type { BackoffPolicy } from '../../src/jobs/backoff';
import { NODE_RECORD_KEPT_MS } from '../../src/jobs/store-steps';
import type { JobCompletion, JobStore, NodeStatus } from '../../src/jobs/types';

export interface ContractStoreOptions {
  maxAttempts: number;
  backoff: BackoffPolicy;
  poisonAfter?: number;
}

/** Opens a new, empty store (its own database). */
export type OpenStore = (o: ContractStoreOptions) => Promise<JobStore>;

const policy = { baseSeconds: 10, maxSeconds: 100 };
const ok: Extract<JobCompletion, { kind: 'succeeded' }> = {
  kind: 'succeeded', outputs: { srSopInstanceUID: '1.2.3' }, lesions: [], timingsMs: { detected: 5 }, idempotencyKey: '1|2|m', seriesInstanceUID: '2', modelVersion: 'm',
};
const transient: Extract<JobCompletion, { kind: 'failed' }> = { kind: 'failed', reason: 'pacs-unreachable', message: 'down', transient: true };
// The PACS took the study's request and went away while handling it (src/pacs/errors.ts PacsUnreachableError).
const pacsFault: JobCompletion = { kind: 'failed', reason: 'pacs-connection-lost', message: 'ECONNRESET', transient: true, stage: 'selected' };
const pacsRefused: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'ECONNREFUSED', transient: true, stage: 'selected' };

export function jobStoreContract(open: OpenStore): void {
  const opened: JobStore[] = [];
  const newStore = async (o: Partial<ContractStoreOptions> = {}) => {
    const s = await open({ maxAttempts: 2, backoff: policy, ...o });
    opened.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  test('enqueue is idempotent per study while a job is active', async () => {
    const store = await newStore();
    const a = await store.enqueue({ studyInstanceUID: '1.2', source: 'webhook', details: { via: 'test' } }, 0);
    const b = await store.enqueue({ studyInstanceUID: '1.2', source: 'changes' }, 1);
    expect(a.created).toBe(true);
    expect(a.job).toMatchObject({ kind: 'study-analysis', studyInstanceUID: '1.2', payload: {}, state: 'queued', attempts: 0, maxAttempts: 2, force: false, receivedAt: 0 });
    expect(b.created).toBe(false);
    expect(b.job.id).toBe(a.job.id);
    expect((await store.journey(a.job.id)).map((e) => [e.event, e.at, e.details])).toEqual([
      ['received', 0, { source: 'webhook', via: 'test' }],
      ['received', 1, { source: 'changes', duplicate: true }],
    ]);
    const claimed = (await store.claim('w1', 1000, { now: 2 }))!;
    await store.complete(claimed.id, 'w1', ok, 3);
    expect((await store.enqueue({ studyInstanceUID: '1.2', source: 'changes' }, 4)).created).toBe(true);
  });

  test('an event while the study\'s job runs queues one follow-up, claimed only once that job has ended', async () => {
    const store = await newStore();
    const first = (await store.enqueue({ studyInstanceUID: '1.3', source: 'webhook' }, 0)).job;
    expect((await store.claim('w1', 1000, { now: 1 }))!.id).toBe(first.id);
    // The rest of the series arrives while the first job analyses what it listed.
    const next = await store.enqueue({ studyInstanceUID: '1.3', source: 'changes' }, 100);
    expect(next.created).toBe(true);
    expect((await store.journey(next.job.id))[0].details).toMatchObject({ afterRunningJob: first.id });
    // Further events join the waiting follow-up.
    expect((await store.enqueue({ studyInstanceUID: '1.3', source: 'webhook' }, 101)).job.id).toBe(next.job.id);
    const other = (await store.enqueue({ studyInstanceUID: '1.4', source: 'changes' }, 102)).job;
    // Not claimed while the first runs (another study is); then in order.
    expect((await store.claim('w2', 1000, { now: 103 }))!.id).toBe(other.id);
    expect(await store.claim('w2', 1000, { now: 104 })).toBeUndefined();
    await store.complete(first.id, 'w1', transient, 105);
    // The first failed and waits for its retry: still before the follow-up.
    expect(await store.claim('w2', 1000, { now: 106 })).toBeUndefined();
    expect((await store.claim('w2', 1000, { now: 200000 }))!.id).toBe(first.id);
    await store.complete(first.id, 'w2', ok, 200001);
    expect((await store.claim('w2', 1000, { now: 200002 }))!.id).toBe(next.job.id);
  });

  test('one job is leased to one worker; an expired lease is taken over; lost workers do not use up its attempts', async () => {
    const store = await newStore();
    const { job } = await store.enqueue({ studyInstanceUID: '1.3', source: 'manual' }, 0);
    expect((await store.claim('w1', 100, { now: 0 }))?.id).toBe(job.id);
    expect(await store.claim('w2', 100, { now: 50 })).toBeUndefined();
    expect(await store.renewLease(job.id, 'w1', 100, 50)).toBe(true);
    expect(await store.claim('w2', 100, { now: 149 })).toBeUndefined();
    const taken = (await store.claim('w2', 100, { now: 151 }))!;
    expect(taken).toMatchObject({ id: job.id, state: 'running', leaseOwner: 'w2', leaseExpiresAt: 251, attempts: 2 });
    expect(await store.renewLease(job.id, 'w1', 100, 152)).toBe(false);
    await expect(store.complete(job.id, 'w1', ok, 153)).rejects.toThrow(/no longer leased/);
    // w2 is lost too: with maxAttempts 2 the job is still taken up, and a finished attempt can still retry.
    expect(await store.claim('w3', 100, { now: 300 })).toMatchObject({ id: job.id, leaseOwner: 'w3', attempts: 3 });
    expect(await store.complete(job.id, 'w3', transient, 301)).toMatchObject({ state: 'failed-retrying', attempts: 3 });
    const journey = await store.journey(job.id);
    expect(journey.map((e) => e.event)).toEqual(['received', 'claimed', 'lease-expired', 'claimed', 'lease-expired', 'claimed', 'retry']);
    expect(journey[2].details).toMatchObject({ previousOwner: 'w1', stage: 'claimed', reason: 'worker-lost' });
  });

  test('transient failure waits for its backoff, then runs again and can succeed; idempotency finds the success', async () => {
    const store = await newStore();
    const { job } = await store.enqueue({ studyInstanceUID: '1.4', source: 'changes' }, 0);
    await store.claim('w', 1000, { now: 0 });
    expect(await store.complete(job.id, 'w', transient, 0)).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000, lastError: 'down', reason: 'pacs-unreachable' });
    expect((await store.countByState())['failed-retrying']).toBe(1);
    expect(await store.claim('w', 1000, { now: 9999 })).toBeUndefined();
    expect((await store.claim('w', 1000, { now: 10000 }))?.attempts).toBe(2);
    const done = await store.complete(job.id, 'w', { ...ok, lesions: [{ id: 1, type: 'lung_nodule', score: 0.9, longAxisMm: 8, shortAxisMm: 6, keySlice: { sopInstanceUID: '1.9', box: [1, 2, 3, 4] } }] }, 10001);
    expect(done).toMatchObject({
      state: 'succeeded', lesionCount: 1, idempotencyKey: '1|2|m', seriesInstanceUID: '2', modelVersion: 'm', finishedAt: 10001,
      outputs: { srSopInstanceUID: '1.2.3' }, timingsMs: { detected: 5 }, lesions: [{ type: 'lung_nodule', keySlice: { box: [1, 2, 3, 4] } }],
    });
    expect(done.leaseOwner).toBeUndefined();
    expect((await store.findSucceeded('1|2|m'))?.id).toBe(job.id);
    expect(await store.findSucceeded('1|2|other')).toBeUndefined();
    expect(await store.get(job.id)).toEqual(done);
    expect(await store.get(job.id + 1000)).toBeUndefined();
  });

  test('finished attempts are limited: a job that keeps failing is dead-lettered with its reason', async () => {
    const store = await newStore();
    const { job } = await store.enqueue({ studyInstanceUID: '1.41', source: 'changes' }, 0);
    await store.claim('w', 1000, { now: 0 });
    await store.complete(job.id, 'w', transient, 1);
    await store.claim('w', 1000, { now: 20000 });
    const dead = await store.complete(job.id, 'w', transient, 20001);
    expect(dead).toMatchObject({ state: 'dead', reason: 'pacs-unreachable', attempts: 2, finishedAt: 20001 });
    expect(dead.lastError).toMatch(/gave up after 2 attempts/);
    expect((await store.journey(job.id)).map((e) => e.event)).toEqual(['received', 'claimed', 'retry', 'claimed', 'dead']);
    expect(await store.claim('w', 1000, { now: 1e9 })).toBeUndefined();
    expect((await store.countByState()).dead).toBe(1);
    // A permanent failure and a skip end at once.
    const f = (await store.enqueue({ studyInstanceUID: '1.42', source: 'manual' }, 2)).job;
    await store.claim('w', 1000, { now: 1e9 });
    expect(await store.complete(f.id, 'w', { kind: 'failed', reason: 'volume-invalid', message: 'gap', transient: false }, 1e9)).toMatchObject({ state: 'failed', reason: 'volume-invalid' });
    const s = (await store.enqueue({ studyInstanceUID: '1.43', source: 'manual' }, 3)).job;
    await store.claim('w', 1000, { now: 1e9 });
    expect(await store.complete(s.id, 'w', { kind: 'skipped', reason: 'no-ct', message: 'MR only', seriesInstanceUID: '9' }, 1e9)).toMatchObject({
      state: 'skipped', reason: 'no-ct', lastError: 'MR only', seriesInstanceUID: '9',
    });
    expect((await store.journey(s.id)).at(-1)).toMatchObject({ event: 'skipped', details: { reason: 'no-ct', message: 'MR only' } });
  });

  test('a job whose input is on one node\'s disk (payload receivedBy) is claimed only by that node; other jobs by any', async () => {
    const store = await newStore();
    const pinned = (await store.enqueue({ studyInstanceUID: '7.1', source: 'dimse', payload: { dimseFolder: 'dimse/studies/7.1', receivedBy: 'node-a' } }, 1000)).job;
    const free = (await store.enqueue({ studyInstanceUID: '7.2', source: 'changes' }, 1001)).job;
    expect((await store.claim('w-b', 1000, { node: 'node-b', now: 2000 }))?.id).toBe(free.id);
    expect(await store.claim('w-b', 1000, { node: 'node-b', now: 2001 })).toBeUndefined();
    expect((await store.claim('w-a', 1000, { node: 'node-a', now: 2002 }))?.id).toBe(pinned.id);
  });

  test('list filters, cursors persist', async () => {
    const store = await newStore();
    await store.enqueue({ studyInstanceUID: '1.5', source: 'poll' });
    await store.enqueue({ studyInstanceUID: '1.6', source: 'poll' });
    expect(await store.list({ studyInstanceUID: '1.6' })).toHaveLength(1);
    expect(await store.list({ state: 'queued', limit: 1 })).toHaveLength(1);
    expect((await store.list()).map((j) => j.studyInstanceUID)).toEqual(['1.6', '1.5']);
    expect(await store.hasJobForStudy('1.5')).toBe(true);
    expect(await store.hasJobForStudy('1.7')).toBe(false);
    expect(await store.getCursor('x')).toBeUndefined();
    await store.setCursor('x', '12');
    await store.setCursor('x', '13');
    expect(await store.getCursor('x')).toBe('13');
    expect(await store.ping()).toBe(true);
  });

  test('jobs of another kind: their own payload, no study, never merged, claimed only by workers that run the kind', async () => {
    const store = await newStore();
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

  test('push and change feed moments apart make one job; a later event or a forced re-run makes a new one', async () => {
    const store = await newStore();
    const a = await store.enqueue({ studyInstanceUID: '2.1', source: 'webhook', mergeWithinMs: 2000 }, 0);
    const claimed = (await store.claim('w', 1000, { now: 10 }))!;
    await store.complete(claimed.id, 'w', { kind: 'skipped', reason: 'own-output', message: 'ours' }, 20);
    const b = await store.enqueue({ studyInstanceUID: '2.1', source: 'changes', mergeWithinMs: 2000 }, 1500);
    expect(b).toMatchObject({ created: false, job: { id: a.job.id } });
    const c = await store.enqueue({ studyInstanceUID: '2.1', source: 'webhook', mergeWithinMs: 2000 }, 1600);
    expect(c.created).toBe(true);
    await store.complete((await store.claim('w', 1000, { now: 1700 }))!.id, 'w', { kind: 'skipped', reason: 'own-output', message: 'ours' }, 1800);
    expect((await store.enqueue({ studyInstanceUID: '2.1', source: 'changes', mergeWithinMs: 2000 }, 9000)).created).toBe(true);
    const forced = await store.enqueue({ studyInstanceUID: '2.2', source: 'manual', force: true }, 0);
    expect(forced.job.force).toBe(true);
  });

  test('PACS faults: a study whose own requests the PACS dropped is quarantined; studies that lost the PACS with it or were refused are not', async () => {
    const store = await newStore({ maxAttempts: 2, backoff: { baseSeconds: 1, maxSeconds: 1000 }, poisonAfter: 2 });
    const bad = (await store.enqueue({ studyInstanceUID: '1.5', source: 'webhook' }, 0)).job;
    const inFlight = (await store.enqueue({ studyInstanceUID: '1.6', source: 'webhook' }, 1)).job;
    const queued = (await store.enqueue({ studyInstanceUID: '1.7', source: 'webhook' }, 2)).job;
    // The poison study crashes the PACS while another study's request is in flight: both lose it; the one that
    // ends second sees the other's loss (pacsFailedOthers) and is not blamed.
    await store.claim('w1', 1e6, { now: 10 });
    await store.claim('w2', 1e6, { now: 10 });
    expect(await store.complete(bad.id, 'w1', pacsFault, 20)).toMatchObject({ state: 'failed-retrying', pacsFaults: { selected: 1 } });
    expect(await store.complete(inFlight.id, 'w2', pacsFault, 21)).toMatchObject({ state: 'failed-retrying', pacsFaults: {} });
    // A study claimed while the PACS restarts is refused: an outage, never a fault.
    await store.claim('w3', 1e6, { now: 30 });
    expect(await store.complete(queued.id, 'w3', pacsRefused, 31)).toMatchObject({ state: 'failed-retrying', pacsFaults: {} });
    // Resuming waiting retries after an outage leaves the studies whose own request was dropped to their backoff
    // (the poison must not be sent again the moment the PACS is back).
    expect(await store.redrive({ state: 'failed-retrying', failedSince: 0 }, 40)).toEqual([queued.id]);
    // The innocent studies succeed once the PACS is back; the poison study, alone again, is quarantined at its
    // second fault in the stage, named in the job and its journey.
    for (let k = 0; k < 2; k++) {
      const j = await store.claim('w3', 1e6, { now: 2000 });
      expect([queued.id, inFlight.id]).toContain(j?.id);
      expect(await store.complete(j!.id, 'w3', ok, 2001)).toMatchObject({ state: 'succeeded', pacsFaults: {} });
    }
    expect(await store.claim('w1', 1e6, { now: 2002 })).toBeUndefined();
    expect(await store.claim('w1', 1e6, { now: 5000 })).toMatchObject({ id: bad.id });
    // A study arriving now has its request in flight when the poison's last crash happens.
    const late = (await store.enqueue({ studyInstanceUID: '1.8', source: 'webhook' }, 5000)).job;
    expect(await store.claim('w2', 1e6, { now: 5000 })).toMatchObject({ id: late.id });
    const q = await store.complete(bad.id, 'w1', pacsFault, 5001);
    expect(q).toMatchObject({ state: 'quarantined', reason: 'pacs-poison-suspected', pacsFaults: { selected: 2 } });
    expect(q.lastError).toMatch(/PACS went away 2 times while handling this study's requests in stage selected/);
    expect((await store.journey(bad.id)).at(-1)).toMatchObject({ event: 'quarantined', details: { stage: 'selected', reason: 'pacs-poison-suspected' } });
    expect(await store.complete(late.id, 'w2', pacsFault, 5002)).toMatchObject({ state: 'failed-retrying', pacsFaults: {} });
  });

  test('leadership: one unexpired holder per role, renewed by it, taken over once expired, released', async () => {
    const store = await newStore();
    expect(await store.leaders()).toEqual([]);
    expect(await store.acquireLeadership('events', 'a', 100, 0)).toBe(true);
    expect(await store.acquireLeadership('events', 'b', 100, 50)).toBe(false);
    expect(await store.acquireLeadership('harvest', 'b', 100, 50)).toBe(true);
    // The holder renews; its lease runs from the renewal.
    expect(await store.acquireLeadership('events', 'a', 100, 90)).toBe(true);
    expect(await store.acquireLeadership('events', 'b', 100, 150)).toBe(false);
    expect(await store.leaders()).toEqual([{ role: 'events', owner: 'a', expiresAt: 190 }, { role: 'harvest', owner: 'b', expiresAt: 150 }]);
    // a stops renewing: b takes over after the lease, and a cannot take it back.
    expect(await store.acquireLeadership('events', 'b', 100, 191)).toBe(true);
    expect(await store.acquireLeadership('events', 'a', 100, 192)).toBe(false);
    // Releasing is only for the holder; then anyone takes it at once.
    await store.releaseLeadership('events', 'a');
    expect(await store.acquireLeadership('events', 'c', 100, 193)).toBe(false);
    await store.releaseLeadership('events', 'b');
    expect(await store.acquireLeadership('events', 'c', 100, 194)).toBe(true);
    expect((await store.leaders()).find((l) => l.role === 'events')).toEqual({ role: 'events', owner: 'c', expiresAt: 294 });
  });

  test('leadership is atomic: many contenders at once, exactly one wins', async () => {
    const store = await newStore();
    const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.acquireLeadership('events', `n${i}`, 1000, 0)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    const holder = `n${wins.indexOf(true)}`;
    expect(await store.leaders()).toEqual([{ role: 'events', owner: holder, expiresAt: 1000 }]);
  });

  test('node records: one per node, replaced by its refresh', async () => {
    const store = await newStore();
    const a: NodeStatus = { node: 'h1:10:ab', host: 'h1', startedAt: 5, seenAt: 10, concurrency: 2, gpus: 2, devices: ['cuda:0', 'cuda:1'], roles: ['events'], runningJobs: 1 };
    const b: NodeStatus = { node: 'h2:20:cd', host: 'h2', startedAt: 6, seenAt: 11, concurrency: 1, gpus: 0, devices: ['cpu'], roles: [], runningJobs: 0 };
    await store.recordNode(b);
    await store.recordNode(a);
    await store.recordNode({ ...a, seenAt: 20, devices: ['cuda:0', 'cpu'], roles: ['events', 'harvest'], runningJobs: 2 });
    expect(await store.nodes()).toEqual([{ ...a, seenAt: 20, devices: ['cuda:0', 'cpu'], roles: ['events', 'harvest'], runningJobs: 2 }, b]);
    // The loaded model and a failed switch (model-reload.ts): written, replaced, cleared.
    const switched = { ...a, seenAt: 21, model: 'lens-ulb-0.4.0', modelError: 'the registry\'s current model lens-ulb-0.5.0 is not loaded: bad' };
    await store.recordNode(switched);
    expect((await store.nodes())[0]).toEqual(switched);
    await store.recordNode({ ...a, seenAt: 22, model: 'lens-ulb-0.5.0' });
    expect((await store.nodes())[0]).toEqual({ ...a, seenAt: 22, model: 'lens-ulb-0.5.0' });
    // A node gone for longer than NODE_RECORD_KEPT_MS is dropped when another refreshes.
    await store.recordNode({ ...a, seenAt: 11 + NODE_RECORD_KEPT_MS + 1 });
    expect((await store.nodes()).map((n) => n.node)).toEqual([a.node]);
  });

  describe('deaths and poison (the rules: test/unit/jobs/poison.test.ts)', () => {
    const timeout: JobCompletion = { kind: 'failed', reason: 'timeout', message: 'slow', transient: true };
    const diedIn = (stage: string): JobCompletion => ({
      kind: 'failed', reason: 'out-of-memory', message: `the analysis process ran out of memory (heap limit 256 MB) in stage ${stage}`, transient: true, stage, died: true,
    });
    const stored = { ...ok, outputs: { srSopInstanceUID: '1.9.1', segSopInstanceUID: '1.9.2' }, timingsMs: {} };
    const alreadyStored = { ...stored, alreadyStored: { lesionCount: 4 } };
    const poisonStore = (o: Partial<ContractStoreOptions> = {}) => newStore({ maxAttempts: 1, backoff: { baseSeconds: 1, maxSeconds: 1 }, poisonAfter: 2, ...o });
    /** Claims the next job as `owner` and enters `stage` (what the analysis process reports before it runs it). */
    const enterAs = (store: JobStore) => async (owner: string, stage: string, now: number) => {
      const job = (await store.claim(owner, 100, { now }))!;
      await store.enterStage(job.id, owner, stage, now + 1);
      return job;
    };

    test('a study whose analysis dies in one stage is quarantined with its cause; the other study goes first meanwhile', async () => {
      const store = await poisonStore();
      const enter = enterAs(store);
      const poison = (await store.enqueue({ studyInstanceUID: '1.1', source: 'webhook' }, 0)).job;
      expect((await enter('w1', 'detected', 0)).id).toBe(poison.id);
      const after = await store.complete(poison.id, 'w1', diedIn('detected'), 10);
      expect(after).toMatchObject({ state: 'failed-retrying', reason: 'out-of-memory', deaths: { detected: 1 } });
      const other = (await store.enqueue({ studyInstanceUID: '1.2', source: 'webhook' }, 50)).job;
      // Both due: the study that killed its analysis goes after the other one.
      const next = (await store.claim('w1', 100, { now: after.nextAttemptAt }))!;
      expect(next.id).toBe(other.id);
      await store.complete(other.id, 'w1', stored, after.nextAttemptAt + 1);
      // Maxattempts is 1, yet the death did not use it up: the poison study is taken up again, and dies again.
      const t = after.nextAttemptAt + 10;
      expect((await enter('w1', 'detected', t)).id).toBe(poison.id);
      const q = await store.complete(poison.id, 'w1', diedIn('detected'), t + 5);
      expect(q).toMatchObject({ state: 'quarantined', reason: 'poison-suspected', attempts: 2, deaths: { detected: 2 }, finishedAt: t + 5 });
      expect(q.lastError).toMatch(/died 2 times in stage detected \(last: the analysis process ran out of memory/);
      expect(await store.claim('w1', 100, { now: t + 1000 })).toBeUndefined();
      const events = (await store.journey(poison.id)).map((e) => [e.event, e.details?.stage, e.details?.died]);
      expect(events).toEqual([
        ['received', undefined, undefined], ['claimed', undefined, undefined], ['stage-started', 'detected', undefined], ['retry', 'detected', true],
        ['claimed', undefined, undefined], ['stage-started', 'detected', undefined], ['quarantined', 'detected', true],
      ]);
      expect((await store.countByState()).quarantined).toBe(1);
      expect(await store.list({ state: 'quarantined' })).toHaveLength(1);
      // A re-sent study is not tried again: the event joins the quarantined job's journey (the PACS is not hammered).
      const again = await store.enqueue({ studyInstanceUID: '1.1', source: 'changes' }, t + 1000);
      expect(again).toMatchObject({ created: false, job: { id: q.id, state: 'quarantined' } });
      expect((await store.journey(q.id)).at(-1)).toMatchObject({ event: 'received', details: { source: 'changes', duplicate: true } });
      // Only a manual re-run (force) makes a new job (a quarantined job is final).
      expect((await store.enqueue({ studyInstanceUID: '1.1', source: 'manual', force: true }, t + 2000)).created).toBe(true);
    });

    test('a study whose service is killed again and again in one stage is taken up each time and ends normally', async () => {
      const store = await poisonStore({ maxAttempts: 2 });
      const enter = enterAs(store);
      const { job } = await store.enqueue({ studyInstanceUID: '1.7', source: 'webhook' }, 0);
      // Five kills in `detected` (the lease runs out each time), more than poisonAfter and maxAttempts together.
      for (let i = 0; i < 5; i++) await enter('w1', 'detected', i * 1000);
      const retried = (await store.claim('w1', 100, { now: 5000 }))!;
      expect(retried).toMatchObject({ id: job.id, state: 'running', attempts: 6, deaths: {} });
      const journey = await store.journey(job.id);
      expect(journey.filter((e) => e.event === 'lease-expired').map((e) => [e.details?.stage, e.details?.reason])).toEqual(Array(5).fill(['detected', 'worker-lost']));
      // The one attempt a worker finished is within maxAttempts 2: retried, not dead.
      expect(await store.complete(job.id, 'w1', timeout, 5001)).toMatchObject({ state: 'failed-retrying', reason: 'timeout' });
      await store.claim('w1', 100, { now: 10000 });
      expect(await store.complete(job.id, 'w1', stored, 10001)).toMatchObject({ state: 'succeeded', attempts: 7, deaths: {} });
    });

    test('only the lease holder records a stage', async () => {
      const store = await poisonStore();
      await store.enqueue({ studyInstanceUID: '1.3', source: 'webhook' }, 0);
      const job = (await store.claim('w1', 100, { now: 0 }))!;
      await expect(store.enterStage(job.id, 'w2', 'fetched', 1)).rejects.toThrow(/no longer leased to w2/);
      expect((await store.get(job.id))!.stage).toBeUndefined();
    });

    test('a job reclaimed after its service was lost that finds its report stored succeeds with those outputs and the stored lesion count', async () => {
      const store = await poisonStore();
      const enter = enterAs(store);
      const { job } = await store.enqueue({ studyInstanceUID: '1.4', source: 'webhook' }, 0);
      await enter('w1', 'stored', 0);
      await store.claim('w2', 100, { now: 200 });
      const done = await store.complete(job.id, 'w2', alreadyStored, 210);
      expect(done).toMatchObject({ state: 'succeeded', attempts: 2, deaths: {}, lesionCount: 4, outputs: alreadyStored.outputs });
      expect(await store.findSucceeded('1|2|m')).toMatchObject({ id: job.id });
    });
  });

  describe('retry horizon, re-drive and resume (the rules: test/unit/jobs/retry-horizon.test.ts)', () => {
    const MIN = 60000;
    const outage: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'connection refused', transient: true };
    const horizonStore = () => newStore({ maxAttempts: 2, backoff: { baseSeconds: 1, maxSeconds: 60, horizonMinutes: 30 } });
    async function fail(store: JobStore, now: number, result: JobCompletion = outage) {
      const job = await store.claim('w', 1000, { now });
      if (!job) throw new Error(`nothing claimable at ${now}`);
      return store.complete(job.id, 'w', result, now);
    }

    test('a job failing through a 29-minute outage keeps retrying; one failing past the horizon is dead', async () => {
      const store = await horizonStore();
      const { job } = await store.enqueue({ studyInstanceUID: '1.2.3', source: 'changes' }, 0);
      let t = 0;
      let after = await fail(store, t);
      expect(after.retryingSince).toBe(0);
      while (t < 29 * MIN) {
        t = after.nextAttemptAt;
        if (t >= 29 * MIN) break;
        after = await fail(store, t);
        expect(after.state).toBe('failed-retrying');
      }
      expect(after.attempts).toBeGreaterThan(20);
      expect(after.retryingSince).toBe(0);
      after = await fail(store, 31 * MIN);
      expect(after).toMatchObject({ id: job.id, state: 'dead', reason: 'pacs-unreachable' });
    });

    test('re-drive by reason queues only those dead jobs, with a fresh budget; the journey says so', async () => {
      const store = await horizonStore();
      const a = (await store.enqueue({ studyInstanceUID: '1.2.1', source: 'changes' }, 0)).job;
      const b = (await store.enqueue({ studyInstanceUID: '1.2.2', source: 'changes' }, 0)).job;
      const other: JobCompletion = { ...outage, reason: 'pacs-http-503' };
      // a fails with one reason, b with another; the second failures come after the horizon: both dead.
      for (const [t, r] of [[0, outage], [1, other]] as const) await fail(store, t, r);
      await fail(store, 40 * MIN, outage);
      await fail(store, 40 * MIN, other);
      expect((await store.list({ state: 'dead' })).map((j) => j.id).sort()).toEqual([a.id, b.id]);
      expect(await store.redrive({ state: 'dead', reason: 'pacs-http-503', details: { by: 'test' } }, 41 * MIN)).toEqual([b.id]);
      const again = (await store.get(b.id))!;
      expect(again).toMatchObject({ state: 'queued', nextAttemptAt: 41 * MIN, maxAttempts: again.attempts + 2, retryingSince: undefined });
      expect((await store.journey(b.id)).at(-1)).toMatchObject({ event: 'redriven', details: { previousReason: 'pacs-http-503', by: 'test' } });
      expect((await store.get(a.id))!.state).toBe('dead');
      // A re-driven job that fails again has a new horizon: retried, not dead at once.
      expect((await fail(store, 42 * MIN, other)).state).toBe('failed-retrying');
      expect(await store.redrive({ state: 'dead' }, 43 * MIN)).toEqual([a.id]);
    });

    test('after an outage, the retries that failed during it are made due at once', async () => {
      const store = await horizonStore();
      const { job } = await store.enqueue({ studyInstanceUID: '1.2.3', source: 'changes' }, 0);
      const later = (await store.enqueue({ studyInstanceUID: '1.2.4', source: 'changes' }, 0)).job;
      expect((await fail(store, 0)).id).toBe(job.id);
      const second = await fail(store, 10 * MIN);
      expect(second.id).toBe(later.id);
      const waiting = await store.list({ state: 'failed-retrying' });
      expect(waiting).toHaveLength(2);
      // The PACS was last known up at 5 min: only the failure after it belongs to the outage.
      expect(await store.redrive({ state: 'failed-retrying', failedSince: 5 * MIN }, 10 * MIN + 500)).toEqual([second.id]);
      expect((await store.get(second.id))!.nextAttemptAt).toBe(10 * MIN + 500);
      expect((await store.journey(second.id)).at(-1)!.event).toBe('resumed');
      expect((await store.get(job.id))!.nextAttemptAt).toBe(1000);
    });
  });

  test('study information: recorded by the lease holder; one row per study with own-output skips folded in, filtered, searched and paged; outcomes', async () => {
    const store = await newStore();
    const info = (accessionNumber: string, series: string) => ({
      studyDate: '20240105', studyDescription: 'CT chest <contrast>', modality: 'CT', accessionNumber, seriesInstanceUID: series, seriesNumber: 3, instances: 40,
    });
    const run = async (study: string, at: number, result: JobCompletion, accession?: string) => {
      const { job } = await store.enqueue({ studyInstanceUID: study, source: 'changes' }, at);
      expect((await store.claim('w1', 1000, { now: at }))!.id).toBe(job.id);
      if (accession) {
        await expect(store.recordStudy(job.id, 'w2', info(accession, `${study}.9`), at)).rejects.toThrow(/no longer leased/);
        await store.recordStudy(job.id, 'w1', info(accession, `${study}.9`), at);
      }
      await store.complete(job.id, 'w1', result, at + 1);
      return job.id;
    };
    const a = await run('1.2.840.1', 0, ok, 'acc-1');
    // Storing our SR/SEG re-announces the study: a skip that belongs to study A, not a row of its own.
    await run('1.2.840.1', 10, { kind: 'skipped', reason: 'own-output', message: 'only our outputs' });
    const b = await run('1.2.840.2', 20, { kind: 'failed', reason: 'bad-dicom', message: 'no pixels', transient: false }, 'ACC-2');
    const c = (await store.enqueue({ studyInstanceUID: '1.3.5', source: 'webhook' }, 30)).job.id;
    expect((await store.get(a))!.study).toEqual(info('acc-1', '1.2.840.1.9'));
    await expect(store.recordStudy(a, 'w1', info('acc-1', 'x'), 40)).rejects.toThrow(/no longer leased/);

    const all = await store.listStudies({ limit: 10 });
    expect(all.total).toBe(3);
    expect(all.studies.map((r) => [r.studyInstanceUID, r.job.id, r.job.state, r.jobs, r.ownOutputEvents, r.study?.accessionNumber])).toEqual([
      ['1.3.5', c, 'queued', 1, 0, undefined],
      ['1.2.840.2', b, (await store.get(b))!.state, 1, 0, 'ACC-2'],
      ['1.2.840.1', a, 'succeeded', 2, 1, 'acc-1'],
    ]);
    expect(all.studies[2].study).toEqual(info('acc-1', '1.2.840.1.9'));
    const uids = async (q: Partial<Parameters<JobStore['listStudies']>[0]>) => (await store.listStudies({ limit: 10, ...q })).studies.map((r) => r.studyInstanceUID);
    expect(await uids({ state: 'succeeded' })).toEqual(['1.2.840.1']);
    expect(await uids({ state: 'skipped' })).toEqual([]);
    expect(await uids({ search: 'ACC-1' })).toEqual(['1.2.840.1']);
    expect(await uids({ search: ' acc-2 ' })).toEqual(['1.2.840.2']);
    expect(await uids({ search: '1.2.840' })).toEqual(['1.2.840.2', '1.2.840.1']);
    expect(await uids({ search: '1.2.840', state: 'queued' })).toEqual([]);
    expect(await uids({ search: '%' })).toEqual([]);
    const page = await store.listStudies({ limit: 1, offset: 1 });
    expect([page.total, page.studies.map((r) => r.studyInstanceUID)]).toEqual([3, ['1.2.840.2']]);
    expect((await store.listStudies({ limit: 5, offset: 5 })).total).toBe(3);

    const outcomes = await store.outcomes(0);
    expect(outcomes).toEqual(expect.arrayContaining([
      { state: 'succeeded', count: 1 }, { state: 'skipped', reason: 'own-output', count: 1 },
    ]));
    expect(outcomes.reduce((n, o) => n + o.count, 0)).toBe(3);
    expect((await store.outcomes(15)).map((o) => o.reason)).toEqual(['bad-dicom']);
  });
}
