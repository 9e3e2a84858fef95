/**
 * Deaths and poison studies: a job whose analysis process the service saw die (out of memory, a signal, a stall)
 * has the death counted by the stage it had entered, and a job that keeps killing its analysis (or the PACS) in one
 * stage is quarantined with a reason naming the stage and the cause, behind every other due job meanwhile. A job
 * whose whole service went away (lease expired: nobody saw why) is taken up again without counting anything, as
 * often as it happens. The rules (state-machine.ts); every store's side of them is in the job-store contract
 * (test/helpers/job-store-contract.ts, run against SQLite and PostgreSQL). PACS faults: pacs-fault.test.ts.
 */
import { afterCompletion, afterLeaseExpiry, canTransition, DEFAULT_POISON_AFTER, finishedAttempts } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';

const policy = { baseSeconds: 10, maxSeconds: 1000, poisonAfter: 2 };
const transient: JobCompletion = { kind: 'failed', reason: 'timeout', message: 'slow', transient: true };
const died = (stage: string, message = 'the analysis process ran out of memory (heap limit 256 MB) in stage ' + stage): JobCompletion => ({
  kind: 'failed', reason: 'out-of-memory', message, transient: true, stage, died: true,
});
const ok: JobCompletion = {
  kind: 'succeeded', outputs: { srSopInstanceUID: '1.9.1', segSopInstanceUID: '1.9.2' }, lesions: [], timingsMs: {},
  idempotencyKey: '1|2|m', seriesInstanceUID: '2', modelVersion: 'm', alreadyStored: { lesionCount: 4 },
};

describe('rules', () => {
  test('an observed death is counted for its stage and retried after a backoff; the limit in one stage quarantines with the cause', () => {
    const job = { attempts: 1, maxAttempts: 5, deaths: {} };
    const first = afterCompletion(job, died('detected'), policy, 0);
    expect(first).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000, reason: 'out-of-memory', deaths: { detected: 1 } });
    expect(first.lastError).toMatch(/ran out of memory .* \(death 1 of 2 in stage detected/);
    // Deaths in other stages do not add up to a poison suspicion.
    expect(afterCompletion({ ...job, deaths: first.deaths }, died('fetched'), policy, 0)).toMatchObject({ state: 'failed-retrying', deaths: { detected: 1, fetched: 1 } });
    const second = afterCompletion({ attempts: 2, maxAttempts: 5, deaths: { detected: 1, fetched: 1 } }, died('detected', 'killed by SIGSEGV in stage detected'), policy, 5);
    expect(second).toMatchObject({ state: 'quarantined', reason: 'poison-suspected', finishedAt: 5, deaths: { detected: 2, fetched: 1 } });
    expect(second.lastError).toMatch(/died 2 times in stage detected \(last: killed by SIGSEGV in stage detected\)/);
    expect(canTransition('running', 'quarantined')).toBe(true);
    expect(canTransition('quarantined', 'running')).toBe(false);
    // Before any stage: counted as 'claimed'; the default limit holds without configuration.
    const before: JobCompletion = { kind: 'failed', reason: 'analysis-crashed', message: 'exited', transient: true, died: true };
    expect(afterCompletion(job, before, { baseSeconds: 1, maxSeconds: 1 }, 0).deaths).toEqual({ claimed: 1 });
    expect(afterCompletion({ ...job, deaths: { claimed: DEFAULT_POISON_AFTER - 1 } }, before, { baseSeconds: 1, maxSeconds: 1 }, 0).state).toBe('quarantined');
  });

  test('a lost service (lease expired) is taken up again at once, never counted toward quarantine', () => {
    expect(afterLeaseExpiry({ stage: 'detected' }, 7)).toEqual({
      stage: 'detected', state: 'failed-retrying', nextAttemptAt: 7, reason: 'worker-lost', lastError: expect.stringMatching(/went away in stage detected/),
    });
    expect(afterLeaseExpiry({}, 7).stage).toBe('claimed');
    expect(afterLeaseExpiry({ stage: 'detected' }, 7)).not.toHaveProperty('deaths');
  });

  test('neither deaths nor lost services count against maxAttempts: only attempts a worker finished do', () => {
    const job = { attempts: 7, maxAttempts: 2, deaths: { detected: 1, fetched: 2 } };
    expect(finishedAttempts(job)).toBe(4);
    expect(finishedAttempts(job, 3)).toBe(1);
    expect(afterCompletion(job, transient, policy, 0, { workersLost: 3 })).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000 });
    expect(afterCompletion(job, transient, policy, 0, { workersLost: 2 })).toMatchObject({ state: 'dead', lastError: expect.stringMatching(/after 2 attempts/) });
    // A job that died and then found its report stored succeeds like any other.
    expect(afterCompletion(job, ok, policy, 7)).toEqual({ state: 'succeeded', nextAttemptAt: 7, finishedAt: 7 });
  });
});
