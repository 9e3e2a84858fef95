import { idempotencyKey, instanceSet, parseIdempotencyKey, reanalysisReason } from '../../../src/pipeline/idempotency';

const uids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `1.2.3.4.${from + i}`);

describe('idempotency key: what an analysis covered', () => {
  test('covers study, series, the exact instance set and the model version', () => {
    const sixty = instanceSet(uids(60));
    const key = idempotencyKey('1.2', '1.2.3', sixty, 'lens-ulb-1.0');
    expect(key).toMatch(/^1\.2\|1\.2\.3\|60:[0-9a-f]{16}\|lens-ulb-1\.0$/);
    // Order and duplicates of the listing do not matter; the same instances are the same work.
    expect(instanceSet([...uids(60)].reverse().concat(uids(3)))).toEqual(sixty);
    expect(idempotencyKey('1.2', '1.2.3', instanceSet(uids(134)), 'lens-ulb-1.0')).not.toBe(key);
    expect(idempotencyKey('1.2', '1.2.4', sixty, 'lens-ulb-1.0')).not.toBe(key);
    expect(idempotencyKey('1.2', '1.2.3', sixty, 'lens-ulb-1.1')).not.toBe(key);
    // Same count, one instance replaced by another: another key.
    expect(instanceSet([...uids(59), '1.2.3.4.999']).digest).not.toBe(sixty.digest);
    expect(parseIdempotencyKey(key)).toEqual({ study: '1.2', series: '1.2.3', instances: sixty, modelVersion: 'lens-ulb-1.0' });
  });
  test('bad parts are refused', () => {
    expect(() => idempotencyKey('1.2', '', instanceSet(uids(1)), 'm')).toThrow(/series/);
    expect(() => idempotencyKey('1.2', '1.2.3', instanceSet(uids(1)), 'a|b')).toThrow(/model version/);
    expect(() => instanceSet([])).toThrow(/no instances/);
  });
  test('says why a study is analysed again, or nothing when the key is unchanged', () => {
    const k = (n: number, series = '1.2.3', model = 'm-1', from = 1) => idempotencyKey('1.2', series, instanceSet(uids(n, from)), model);
    expect(reanalysisReason(k(60), k(60))).toBeUndefined();
    expect(reanalysisReason(k(60), k(134))).toBe('series 1.2.3 changed: 74 instances added (60 -> 134)');
    expect(reanalysisReason(k(60), k(50))).toBe('series 1.2.3 changed: 10 instances removed (60 -> 50)');
    expect(reanalysisReason(k(60), k(60, '1.2.3', 'm-1', 7))).toBe('series 1.2.3 changed: instances replaced (60 -> 60)');
    expect(reanalysisReason(k(60), k(200, '1.2.9'))).toBe('series 1.2.9 (200 instances) is now preferred over series 1.2.3 (60 instances)');
    expect(reanalysisReason(k(60, '1.2.3', 'm-0'), k(60))).toBe('model changed: m-0 -> m-1');
    // A key of the earlier form (study|series|model) named no instances.
    expect(reanalysisReason('1.2|1.2.3|m-1', k(60))).toMatch(/without a record of its instances/);
  });
});
