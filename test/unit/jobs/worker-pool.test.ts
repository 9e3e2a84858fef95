/**
 * The worker pool over the real SQLite store (in memory): what it claims, how many jobs run at once, the lease
 * kept alive while a job runs and given up when renewal fails, and a shutdown that lets running jobs finish.
 * Outcomes are decided by events (a job's state, a gate opened by the test), never by how long something took.
 */
import { LeaseLostError } from '../../../src/jobs/errors';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { JobCompletion, StudyAnalysisJob } from '../../../src/jobs/types';
import { WorkerPool, type JobRunContext, type WorkerPoolOptions } from '../../../src/jobs/worker';

const done = (id: string): JobCompletion => ({
  kind: 'succeeded', outputs: {}, lesions: [], timingsMs: {}, idempotencyKey: `${id}|s|m`, seriesInstanceUID: 's', modelVersion: 'm',
});

/** Polls until probe() is truthy; the deadline only turns a hang into a failure. */
async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A promise the test resolves when it decides to. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

let store: SqliteJobStore;
let pool: WorkerPool | undefined;
const newPool = (o: Partial<WorkerPoolOptions> & Pick<WorkerPoolOptions, 'runners'>) =>
  (pool = new WorkerPool({ store, concurrency: 1, leaseMs: 5000, pollMs: 10, owner: 'pool-1', ...o }));

beforeEach(() => {
  store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
});
afterEach(async () => {
  await pool?.stop(1000);
  pool = undefined;
  await store.close();
});

test('claims due jobs of the kinds it runs, hands each its job and journal, and records the outcome', async () => {
  const a = (await store.enqueue({ studyInstanceUID: '1.1', source: 'changes' })).job;
  const b = (await store.enqueue({ studyInstanceUID: '1.2', source: 'webhook' })).job;
  const harvest = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { from: '20240101' } })).job;
  const seen: string[] = [];
  const finished: string[] = [];
  newPool({
    runners: {
      'study-analysis': async (job: StudyAnalysisJob, ctx: JobRunContext) => {
        seen.push(job.studyInstanceUID);
        await ctx.journal('selected', { seriesInstanceUID: 's' });
        return done(job.studyInstanceUID);
      },
    },
    onFinished: (job) => finished.push(`${job.id}:${job.state}`),
  }).start();
  await until(async () => (await store.countByState()).succeeded === 2, 'both studies analysed');
  expect(seen.sort()).toEqual(['1.1', '1.2']);
  expect(finished.sort()).toEqual([`${a.id}:succeeded`, `${b.id}:succeeded`].sort());
  expect((await store.journey(a.id)).map((e) => e.event)).toEqual(['received', 'claimed', 'selected']);
  expect(await store.get(a.id)).toMatchObject({ attempts: 1, idempotencyKey: '1.1|s|m', leaseOwner: undefined });
  // No runner for harvest runs in this pool: the due harvest run is left for a pool that has one.
  expect(await store.get(harvest.id)).toMatchObject({ state: 'queued', attempts: 0 });
});

test('never runs more jobs at once than its concurrency', async () => {
  for (let i = 0; i < 5; i++) await store.enqueue({ studyInstanceUID: `2.${i}`, source: 'poll' });
  const gates = new Map<string, ReturnType<typeof gate>>();
  let inFlight = 0;
  let most = 0;
  newPool({
    concurrency: 2,
    runners: {
      'study-analysis': async (job) => {
        most = Math.max(most, ++inFlight);
        const g = gate();
        gates.set(job.studyInstanceUID, g);
        await g.wait;
        inFlight--;
        return done(job.studyInstanceUID);
      },
    },
  }).start();
  for (let finishedCount = 0; finishedCount < 5; finishedCount++) {
    // Two are running (or the last one alone); the others stay queued until one of them finishes.
    await until(() => inFlight === Math.min(2, 5 - finishedCount), `${Math.min(2, 5 - finishedCount)} running`);
    const counts = await store.countByState();
    expect(counts.running).toBe(Math.min(2, 5 - finishedCount));
    expect(counts.queued).toBe(Math.max(0, 5 - finishedCount - 2));
    const [uid, g] = [...gates.entries()][0];
    gates.delete(uid);
    g.open();
    await until(async () => (await store.countByState()).succeeded === finishedCount + 1, 'the released job to finish');
  }
  expect(most).toBe(2);
});

test('the lease is renewed while a job runs, so no other worker can take it after the first lease time', async () => {
  const { job } = await store.enqueue({ studyInstanceUID: '3.1', source: 'manual' });
  const leaseMs = 300;
  let claimedExpiry = 0;
  let takenByOther: unknown = 'not tried';
  newPool({
    leaseMs,
    renewEveryMs: 50,
    runners: {
      'study-analysis': async (j, ctx) => {
        claimedExpiry = (await store.get(j.id))!.leaseExpiresAt!;
        // Run past the lease the claim gave; renewals must have pushed it on.
        await until(() => Date.now() > claimedExpiry + leaseMs, 'the first lease to be long over');
        takenByOther = await store.claim('pool-2', leaseMs);
        ctx.checkLease();
        return done(j.studyInstanceUID);
      },
    },
  }).start();
  await until(async () => (await store.get(job.id))?.state === 'succeeded', 'the job to finish');
  expect(takenByOther).toBeUndefined();
  expect((await store.journey(job.id)).map((e) => e.event)).not.toContain('lease-expired');
});

test('a job taken over by another worker: checkLease throws, the pool does not report an outcome for it', async () => {
  const { job } = await store.enqueue({ studyInstanceUID: '4.1', source: 'manual' });
  const thrown: unknown[] = [];
  const finished: number[] = [];
  newPool({
    leaseMs: 1000,
    renewEveryMs: 20,
    runners: {
      'study-analysis': async (j, ctx) => {
        // Another worker believes this one dead and takes the job (its clock is past our lease).
        await store.claim('pool-2', 60000, { now: Date.now() + 5000 });
        try {
          await until(() => (ctx.checkLease(), false), 'checkLease to throw');
        } catch (e) {
          thrown.push(e);
          throw e;
        }
        return done(j.studyInstanceUID);
      },
    },
    onFinished: (j) => finished.push(j.id),
  }).start();
  await until(() => thrown.length > 0, 'the runner to see the lost lease');
  expect(thrown[0]).toBeInstanceOf(LeaseLostError);
  await pool!.stop(1000);
  expect(finished).toEqual([]);
  expect(await store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: 'pool-2', attempts: 2 });
});

test('a renewal that fails (store unreachable) makes checkLease throw: the job is not run on without a lease', async () => {
  class UnreachableOnRenewal extends SqliteJobStore {
    override async renewLease(): Promise<boolean> {
      throw new Error('connection refused');
    }
  }
  await store.close();
  store = new UnreachableOnRenewal({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const { job } = await store.enqueue({ studyInstanceUID: '5.1', source: 'manual' });
  let lost: unknown;
  newPool({
    renewEveryMs: 20,
    runners: {
      'study-analysis': async (j, ctx) => {
        try {
          await until(() => (ctx.checkLease(), false), 'checkLease to throw');
        } catch (e) {
          lost = e;
          throw e;
        }
        return done(j.studyInstanceUID);
      },
    },
  }).start();
  await until(() => lost, 'the runner to see the failed renewal');
  expect(lost).toBeInstanceOf(LeaseLostError);
  await pool!.stop(1000);
  // Not completed by this worker: the job waits for its lease to run out and is then claimed again.
  expect(await store.get(job.id)).toMatchObject({ state: 'running', leaseOwner: 'pool-1' });
});

test('stop() lets the running job finish and claims nothing more', async () => {
  const first = (await store.enqueue({ studyInstanceUID: '6.1', source: 'manual' }, 0)).job;
  const second = (await store.enqueue({ studyInstanceUID: '6.2', source: 'manual' }, 1)).job;
  const release = gate();
  let started = 0;
  newPool({
    runners: {
      'study-analysis': async (j) => {
        started++;
        await release.wait;
        return done(j.studyInstanceUID);
      },
    },
  }).start();
  await until(() => started === 1, 'the first job to start');
  let stopped = false;
  const stopping = pool!.stop(60000).then(() => (stopped = true));
  await new Promise((r) => setImmediate(r));
  expect(stopped).toBe(false);
  release.open();
  await stopping;
  expect(started).toBe(1);
  expect(await store.get(first.id)).toMatchObject({ state: 'succeeded' });
  expect(await store.get(second.id)).toMatchObject({ state: 'queued', attempts: 0 });
});
