import { deriveUid, isValidUid, reportUids } from '../../../src/report/uid';

describe('deterministic UIDs', () => {
  test('same parts give the same valid 2.25 UID, different parts a different one', () => {
    const a = deriveUid('1.2.3', 'lens-ulb', '0.1.0', 'sr-instance');
    expect(a).toBe(deriveUid('1.2.3', 'lens-ulb', '0.1.0', 'sr-instance'));
    expect(a).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(isValidUid(a)).toBe(true);
    expect(a).not.toBe(deriveUid('1.2.3', 'lens-ulb', '0.1.1', 'sr-instance'));
    // Parts are separated: ('ab','c') is not ('a','bc').
    expect(deriveUid('ab', 'c')).not.toBe(deriveUid('a', 'bc'));
  });

  test('SR and SEG series and instances differ from each other', () => {
    const u = reportUids('1.2.3', { name: 'lens-ulb', version: '0.1.0' });
    const all = [u.srSeries, u.srInstance, u.segSeries, u.segInstance, u.dimensionOrganization];
    expect(new Set(all).size).toBe(all.length);
    expect(() => reportUids('not-a-uid', { name: 'm', version: '1' })).toThrow(/SeriesInstanceUID/);
    expect(() => deriveUid()).toThrow(/non-empty/);
  });
  test('another set of analysed instances of the same series gets other UIDs; the same set the same ones', () => {
    const model = { name: 'lens-ulb', version: '0.1.0' };
    const sixty = reportUids('1.2.3', model, 'aaaaaaaaaaaaaaaa');
    expect(reportUids('1.2.3', model, 'aaaaaaaaaaaaaaaa')).toEqual(sixty);
    const more = reportUids('1.2.3', model, 'bbbbbbbbbbbbbbbb');
    expect(more.srInstance).not.toBe(sixty.srInstance);
    expect(more.segSeries).not.toBe(sixty.segSeries);
    // The device is the model, whatever it analysed.
    expect(more.deviceObserver).toBe(sixty.deviceObserver);
  });
});
