import { backoffDelayMs, isTransient, parseRetryAfter } from '../../../src/pacs/retry';

describe('which failures are retried', () => {
  test.each([
    [0, 'ECONNREFUSED'],
    [0, 'ECONNRESET'],
    [0, 'no answer within 100 ms'],
  ])('no HTTP response (%s, %s) is transient', (status, networkError) => {
    expect(isTransient({ status, networkError })).toBe(true);
  });
  test.each([429, 502, 503, 504])('HTTP %i is transient', (status) => expect(isTransient({ status })).toBe(true));
  test.each([400, 401, 403, 404, 409, 415, 500, 501])('HTTP %i is final', (status) => expect(isTransient({ status })).toBe(false));
});

describe('backoff', () => {
  test('grows exponentially, with jitter between half and the full step', () => {
    const base = 100;
    for (let retry = 0; retry < 6; retry++) {
      const step = base * 2 ** retry;
      expect(backoffDelayMs(retry, { baseMs: base }, undefined, () => 0)).toBe(step / 2);
      expect(backoffDelayMs(retry, { baseMs: base }, undefined, () => 0.999999)).toBeCloseTo(step, 0);
    }
  });
  test('never waits longer than maxMs', () => {
    expect(backoffDelayMs(20, { baseMs: 500, maxMs: 8000 }, undefined, () => 1)).toBe(8000);
  });
  test("a server's Retry-After wins when longer, capped by maxMs", () => {
    expect(backoffDelayMs(0, { baseMs: 100 }, { status: 503, retryAfterSeconds: 2 }, () => 0)).toBe(2000);
    expect(backoffDelayMs(0, { baseMs: 100, maxMs: 1000 }, { status: 429, retryAfterSeconds: 60 }, () => 0)).toBe(1000);
    expect(backoffDelayMs(3, { baseMs: 1000 }, { status: 503, retryAfterSeconds: 1 }, () => 0)).toBe(4000);
  });
  test('Retry-After in seconds is read; dates and junk are ignored', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
