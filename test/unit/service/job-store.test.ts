import { backoffMs } from '../../../src/jobs/backoff';
import { afterCompletion, canTransition, isClaimable } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';

const policy = { baseSeconds: 10, maxSeconds: 100 };
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

// Every store's behaviour (enqueue, leases, retries, dead letter, merge window): test/helpers/job-store-contract.ts.
