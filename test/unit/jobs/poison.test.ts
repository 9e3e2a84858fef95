/**
 * Worker deaths and poison studies: a job whose worker died (its lease expired) is taken up again without using
 * up its attempts, its deaths are counted by the stage it had entered, and a job that keeps killing the worker (or
 * the PACS) in one stage is quarantined with a reason naming the stage, behind every other due job meanwhile.
 * The rules (state-machine.ts) and the SQLite store that applies them.
 */
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { afterCompletion, afterLeaseExpiry, canTransition, DEFAULT_POISON_AFTER, finishedAttempts } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';

const policy = { baseSeconds: 10, maxSeconds: 1000, poisonAfter: 2 };
const transient: JobCompletion = { kind: 'failed', reason: 'timeout', message: 'slow', transient: true };
const pacsFault: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'ECONNRESET', transient: true, stage: 'selected' };
const ok: JobCompletion = {
  kind: 'succeeded', outputs: { srSopInstanceUID: '1.9.1', segSopInstanceUID: '1.9.2' }, lesions: [], timingsMs: {},
  idempotencyKey: '1|2|m', seriesInstanceUID: '2', modelVersion: 'm', alreadyStored: { lesionCount: 4 },
};

describe('rules', () => {
  test('a death is counted for the stage the attempt entered; the job is taken up again until the limit in one stage', () => {
    const first = afterLeaseExpiry({ stage: 'detected', deaths: {} }, policy, 0);
    expect(first).toEqual({ stage: 'detected', deaths: { detected: 1 } });
    // Deaths in other stages do not add up to a poison suspicion.
    expect(afterLeaseExpiry({ stage: 'fetched', deaths: first.deaths }, policy, 0).quarantine).toBeUndefined();
    const second = afterLeaseExpiry({ stage: 'detected', deaths: { detected: 1, fetched: 1 } }, policy, 5);
    expect(second.quarantine).toMatchObject({ state: 'quarantined', reason: 'poison-suspected', finishedAt: 5, deaths: { detected: 2, fetched: 1 } });
    expect(second.quarantine!.lastError).toMatch(/died 2 times in stage detected/);
    expect(canTransition('running', 'quarantined')).toBe(true);
    expect(canTransition('quarantined', 'running')).toBe(false);
    // Before any stage: counted as 'claimed'; the default limit holds without configuration.
    expect(afterLeaseExpiry({ deaths: {} }, { poisonAfter: DEFAULT_POISON_AFTER }, 0).deaths).toEqual({ claimed: 1 });
  });

  test('deaths do not count against maxAttempts: only attempts a worker finished do', () => {
    const job = { attempts: 4, maxAttempts: 2, deaths: { detected: 1, fetched: 2 } };
    expect(finishedAttempts(job)).toBe(1);
    expect(afterCompletion(job, transient, policy, 0)).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000 });
    expect(afterCompletion({ ...job, attempts: 5 }, transient, policy, 0)).toMatchObject({ state: 'dead', lastError: expect.stringMatching(/after 2 attempts/) });
    // A job that died and then found its report stored succeeds like any other.
    expect(afterCompletion(job, ok, policy, 7)).toEqual({ state: 'succeeded', nextAttemptAt: 7, finishedAt: 7 });
  });

  test('PACS faults: counted only while the PACS answered other studies, retried later, quarantined at the limit', () => {
    const job = { attempts: 1, maxAttempts: 5, deaths: {}, pacsFaults: {} };
    // The PACS is down for everyone: an ordinary retry.
    expect(afterCompletion(job, pacsFault, policy, 0)).toEqual({ state: 'failed-retrying', nextAttemptAt: 10000, reason: 'pacs-unreachable', lastError: 'ECONNRESET' });
    const first = afterCompletion(job, pacsFault, policy, 0, { pacsAnsweredOthers: true });
    expect(first).toMatchObject({ state: 'failed-retrying', pacsFaults: { selected: 1 } });
    expect(first.nextAttemptAt).toBeGreaterThan(10000);
    const second = afterCompletion({ ...job, attempts: 2, pacsFaults: first.pacsFaults }, pacsFault, policy, 0, { pacsAnsweredOthers: true });
    expect(second).toMatchObject({ state: 'quarantined', reason: 'pacs-poison-suspected', pacsFaults: { selected: 2 } });
    expect(second.lastError).toMatch(/PACS failed 2 times during stage selected/);
  });
});

describe('SqliteJobStore', () => {
  let store: SqliteJobStore;
  beforeEach(() => {
    store = new SqliteJobStore({ file: ':memory:', maxAttempts: 1, backoff: { baseSeconds: 1, maxSeconds: 1 }, poisonAfter: 2 });
  });
  afterEach(() => store.close());

  /** Claims the next job as `owner`, enters `stage`, and leaves it there (the worker dies). */
  async function dieIn(owner: string, stage: string, now: number) {
    const job = (await store.claim(owner, 100, { now }))!;
    await store.enterStage(job.id, owner, stage, now + 1);
    return job;
  }

  test('a study that kills the worker in one stage is quarantined with its reason; the other study goes first meanwhile', async () => {
    const poison = (await store.enqueue({ studyInstanceUID: '1.1', source: 'webhook' }, 0)).job;
    expect((await dieIn('w1', 'detected', 0)).id).toBe(poison.id);
    expect(await store.get(poison.id)).toMatchObject({ state: 'running', stage: 'detected' });
    const other = (await store.enqueue({ studyInstanceUID: '1.2', source: 'webhook' }, 50)).job;
    // The lease ran out: the death is recorded, and the study queued after it is claimed first.
    const next = (await store.claim('w2', 100, { now: 200 }))!;
    expect(next.id).toBe(other.id);
    expect(await store.get(poison.id)).toMatchObject({ state: 'failed-retrying', reason: 'worker-lost', deaths: { detected: 1 } });
    await store.complete(other.id, 'w2', { ...ok, alreadyStored: undefined }, 201);
    // Maxattempts is 1, yet the dead attempt did not use it up: the poison study is taken up again, and dies again.
    expect((await dieIn('w2', 'detected', 300)).id).toBe(poison.id);
    expect(await store.claim('w3', 100, { now: 500 })).toBeUndefined();
    const q = (await store.get(poison.id))!;
    expect(q).toMatchObject({ state: 'quarantined', reason: 'poison-suspected', attempts: 2, deaths: { detected: 2 }, finishedAt: 500 });
    expect(q.lastError).toMatch(/died 2 times in stage detected/);
    const events = (await store.journey(poison.id)).map((e) => [e.event, e.details?.stage]);
    expect(events).toEqual([
      ['received', undefined], ['claimed', undefined], ['stage-started', 'detected'], ['lease-expired', 'detected'],
      ['claimed', undefined], ['stage-started', 'detected'], ['lease-expired', 'detected'], ['quarantined', 'detected'],
    ]);
    expect((await store.countByState()).quarantined).toBe(1);
    expect(await store.list({ state: 'quarantined' })).toHaveLength(1);
    // A new event for the study makes a new job (a quarantined job is final), which runs normally.
    expect((await store.enqueue({ studyInstanceUID: '1.1', source: 'manual', force: true }, 600)).created).toBe(true);
  });

  test('only the lease holder records a stage', async () => {
    await store.enqueue({ studyInstanceUID: '1.3', source: 'webhook' }, 0);
    const job = (await store.claim('w1', 100, { now: 0 }))!;
    await expect(store.enterStage(job.id, 'w2', 'fetched', 1)).rejects.toThrow(/no longer leased to w2/);
    expect((await store.get(job.id))!.stage).toBeUndefined();
  });

  test('a job reclaimed after a death that finds its report stored succeeds with those outputs and the stored lesion count', async () => {
    const { job } = await store.enqueue({ studyInstanceUID: '1.4', source: 'webhook' }, 0);
    await dieIn('w1', 'stored', 0);
    await store.claim('w2', 100, { now: 200 });
    const done = await store.complete(job.id, 'w2', ok, 210);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2, deaths: { stored: 1 }, lesionCount: 4, outputs: ok.outputs });
    expect(await store.findSucceeded('1|2|m')).toMatchObject({ id: job.id });
  });

  test('PACS faults while another study reached the PACS: counted by stage, quarantined at the limit', async () => {
    await store.close();
    store = new SqliteJobStore({ file: ':memory:', maxAttempts: 5, backoff: { baseSeconds: 1, maxSeconds: 1000 }, poisonAfter: 2 });
    const bad = (await store.enqueue({ studyInstanceUID: '1.5', source: 'webhook' }, 0)).job;
    const good = (await store.enqueue({ studyInstanceUID: '1.6', source: 'webhook' }, 1)).job;
    await store.claim('w1', 1000, { now: 10 });
    await store.claim('w2', 1000, { now: 10 });
    // First attempt: no other study has reached the PACS yet, an ordinary failure.
    expect(await store.complete(bad.id, 'w1', pacsFault, 20)).toMatchObject({ state: 'failed-retrying', pacsFaults: {} });
    await store.addJourney(good.id, 'selected', {}, 30);
    await store.claim('w1', 1000, { now: 5000 });
    const after = await store.complete(bad.id, 'w1', pacsFault, 5010);
    expect(after).toMatchObject({ state: 'failed-retrying', pacsFaults: { selected: 1 } });
    await store.addJourney(good.id, 'fetched', {}, 5020);
    await store.claim('w1', 1000, { now: after.nextAttemptAt });
    expect(await store.complete(bad.id, 'w1', pacsFault, after.nextAttemptAt + 1)).toMatchObject({
      state: 'quarantined', reason: 'pacs-poison-suspected', pacsFaults: { selected: 2 },
    });
    expect((await store.journey(bad.id)).at(-1)).toMatchObject({ event: 'quarantined', details: { stage: 'selected' } });
  });
});
