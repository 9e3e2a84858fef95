/**
 * Outages are waited out: transient failures are retried (capped backoff) for the retry horizon whatever the
 * attempt count, and only then is a job dead; a re-drive queues dead jobs again with a fresh budget; a PACS that
 * answers again makes the outage's retries due at once. The pure rules; every store's side of them is in the
 * job-store contract (test/helpers/job-store-contract.ts, run against SQLite and PostgreSQL).
 */
import { afterCompletion, afterRedrive, withinRetryHorizon } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';

const MIN = 60000;
const outage: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'connection refused', transient: true };
const policy = { baseSeconds: 1, maxSeconds: 60, horizonMinutes: 30 };

describe('retry horizon (pure rules)', () => {
  test('past maxAttempts a transient failure is retried until the horizon has passed since the first failure', () => {
    const job = { attempts: 9, maxAttempts: 5, deaths: {}, pacsFaults: {} };
    const first = afterCompletion({ ...job, attempts: 1 }, outage, policy, 0);
    expect(first).toMatchObject({ state: 'failed-retrying', retryingSince: 0, nextAttemptAt: 1000 });
    const late = afterCompletion({ ...job, retryingSince: 0 }, outage, policy, 29 * MIN);
    expect(late).toMatchObject({ state: 'failed-retrying', retryingSince: 0 });
    // The delay is capped (maxSeconds), however many attempts came before.
    expect(late.nextAttemptAt - 29 * MIN).toBe(60000);
    const dead = afterCompletion({ ...job, retryingSince: 0 }, outage, policy, 30 * MIN);
    expect(dead).toMatchObject({ state: 'dead', reason: 'pacs-unreachable' });
    expect(dead.lastError).toBe('gave up after 9 attempts over 30 min (retry horizon 30 min): connection refused');
    // Within the horizon but attempts left: retried as ever; no horizon: maxAttempts alone decides (as before).
    expect(afterCompletion({ ...job, attempts: 5, retryingSince: 0 }, outage, { baseSeconds: 1, maxSeconds: 60 }, 1000).state).toBe('dead');
    expect(afterCompletion({ ...job, attempts: 4 }, outage, { baseSeconds: 1, maxSeconds: 60 }, 1000).state).toBe('failed-retrying');
    expect(withinRetryHorizon(0, policy, 30 * MIN - 1)).toBe(true);
    expect(withinRetryHorizon(0, {}, 0)).toBe(false);
  });
  test('a permanent failure is not retried, whatever the horizon', () => {
    expect(afterCompletion({ attempts: 1, maxAttempts: 5 }, { ...outage, transient: false }, policy, 0).state).toBe('failed');
  });
  test('re-drive: only a dead job, queued now with a fresh budget and a new horizon', () => {
    expect(afterRedrive({ state: 'dead', attempts: 7 }, 5, 100)).toEqual({ state: 'queued', nextAttemptAt: 100, retryingSince: null, maxAttempts: 12 });
    expect(() => afterRedrive({ state: 'succeeded', attempts: 1 }, 5, 100)).toThrow(/only dead ones/);
  });
});
