/**
 * The PACS side of poison isolation (issue 11): a study whose own request the PACS takes and then goes away on
 * (crashes while handling it) is a PACS fault of that study; one that loses the PACS together with other studies,
 * or finds it refusing connections (down for everyone, restarting), is not. The DICOMweb client's half (a dropped
 * request is tried twice at most and named pacs-connection-lost, against a loopback server that drops requests),
 * and the rule of state-machine.ts. The stores apply it in test/helpers/job-store-contract.ts; a real crashing
 * Orthanc in test/integration/service/pacs-poison.test.ts.
 */
import net from 'node:net';
import { PACS_CONNECTION_LOST, afterCompletion } from '../../../src/jobs/state-machine';
import type { JobCompletion } from '../../../src/jobs/types';
import { PacsUnreachableError } from '../../../src/pacs/dicomweb';
import { isDropped } from '../../../src/pacs/retry';
import { client } from '../../integration/pacs/fixtures';

const policy = { baseSeconds: 10, maxSeconds: 100000, poisonAfter: 3 };
const lost: JobCompletion = { kind: 'failed', reason: PACS_CONNECTION_LOST, message: 'PACS unreachable (ECONNRESET)', transient: true, stage: 'selected' };
const refused: JobCompletion = { kind: 'failed', reason: 'pacs-unreachable', message: 'PACS unreachable (ECONNREFUSED)', transient: true, stage: 'selected' };

describe('rule', () => {
  test('a study whose own requests the PACS dropped, alone: counted by stage, retried later each time, quarantined at the limit', () => {
    let job = { attempts: 1, maxAttempts: 2, deaths: {}, pacsFaults: {} as Record<string, number> };
    const ordinary = afterCompletion(job, { ...lost, reason: 'timeout' }, policy, 0).nextAttemptAt;
    const waits: number[] = [];
    for (let fault = 1; fault < policy.poisonAfter; fault++) {
      const t = afterCompletion(job, lost, policy, 0);
      // Past maxAttempts too: faults never make a job dead, the poison rule bounds them.
      expect(t).toMatchObject({ state: 'failed-retrying', reason: PACS_CONNECTION_LOST, pacsFaults: { selected: fault } });
      expect(t.lastError).toMatch(new RegExp(`PACS fault ${fault} of 3 in stage selected`));
      waits.push(t.nextAttemptAt);
      job = { ...job, attempts: job.attempts + 1, pacsFaults: t.pacsFaults! };
    }
    expect(waits[0]).toBeGreaterThan(ordinary);
    expect(waits[1]).toBeGreaterThan(waits[0]);
    const q = afterCompletion(job, lost, policy, 5);
    expect(q).toMatchObject({ state: 'quarantined', reason: 'pacs-poison-suspected', finishedAt: 5, pacsFaults: { selected: 3 } });
    expect(q.lastError).toMatch(/PACS went away 3 times while handling this study's requests in stage selected.*last: PACS unreachable \(ECONNRESET\)/);
  });

  test('faults are counted per stage: one in each stage quarantines nothing', () => {
    const job = { attempts: 3, maxAttempts: 5, deaths: {}, pacsFaults: { selected: 2, fetched: 2 } };
    expect(afterCompletion(job, { ...lost, stage: 'stored' }, policy, 0)).toMatchObject({ state: 'failed-retrying', pacsFaults: { selected: 2, fetched: 2, stored: 1 } });
  });

  test('the PACS crashing for everyone at once blames nobody: refused connections, or a loss shared with other studies, are ordinary retries', () => {
    const job = { attempts: 1, maxAttempts: 5, deaths: {}, pacsFaults: { selected: policy.poisonAfter - 1 } };
    // A study queued behind the poison, claimed while the PACS restarts: refused, however many faults it had.
    expect(afterCompletion(job, refused, policy, 0)).toEqual({
      state: 'failed-retrying', nextAttemptAt: 10000, reason: 'pacs-unreachable', lastError: refused.message, retryingSince: 0,
    });
    // A study whose request was in flight when another study's request crashed the PACS: both lost it.
    expect(afterCompletion(job, lost, policy, 0, { pacsFailedOthers: true })).toMatchObject({ state: 'failed-retrying', nextAttemptAt: 10000, retryingSince: 0 });
    expect(afterCompletion(job, lost, policy, 0, { pacsFailedOthers: true }).pacsFaults).toBeUndefined();
    // An outage past maxAttempts and the retry horizon ends as an ordinary dead job, never as a poison suspect.
    expect(afterCompletion({ ...job, attempts: 5, retryingSince: 0 }, refused, { ...policy, horizonMinutes: 1 }, 120000)).toMatchObject({ state: 'dead', reason: 'pacs-unreachable' });
  });
});

describe('DICOMweb client against a server that drops requests', () => {
  test('only a connection lost while the server handled the request is a drop', () => {
    for (const e of ['ECONNRESET', 'socket hang up', 'EPIPE', 'connection closed before the response was complete']) expect(isDropped({ status: 0, networkError: e })).toBe(true);
    for (const e of ['ECONNREFUSED', 'no answer within 300 ms', 'ENOTFOUND']) expect(isDropped({ status: 0, networkError: e })).toBe(false);
    expect(isDropped({ status: 503 })).toBe(false);
  });

  test('a request the server takes and drops is sent twice at most, whatever the retries, and named pacs-connection-lost', async () => {
    let requests = 0;
    const dropper = net.createServer((s) => {
      // Read the request, then go away without answering, as a PACS that crashes on it does.
      s.once('data', () => {
        requests++;
        s.destroy();
      });
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(dropper.address() as net.AddressInfo).port}/dicom-web`;
      const err = await client(url, { retries: 4, retryBaseMs: 10 }).retrieveSeriesMetadata('1.2', '1.2.3').catch((e) => e);
      expect(err).toBeInstanceOf(PacsUnreachableError);
      expect(err).toMatchObject({ reason: PACS_CONNECTION_LOST, transient: true, attempts: 2, dropped: 2 });
      expect((err as Error).message).toMatch(/the PACS dropped the connection while handling 2 tries of this request/);
      expect(requests).toBe(2);
    } finally {
      await new Promise((resolve) => dropper.close(resolve));
    }
  });
});
