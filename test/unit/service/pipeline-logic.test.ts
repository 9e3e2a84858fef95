import { selectionSchema } from '../../../src/config/schema';
import type { SeriesInfo } from '../../../src/dicom/series';
import { classifyError, SkipStudy } from '../../../src/pipeline/errors';
import { idempotencyKey } from '../../../src/pipeline/idempotency';
import { ownOutputReason, splitOwnOutputs } from '../../../src/pipeline/own-outputs';
import { selectStage, type SelectDeps } from '../../../src/pipeline/select-stage';
import { PacsHttpError, PacsUnreachableError } from '../../../src/pacs/errors';
import { isStable, pollWindow } from '../../../src/listener/poll-window';

describe('own outputs', () => {
  test('SR/SEG series made by lens-pacs are recognised by Manufacturer or description', () => {
    expect(ownOutputReason({ seriesInstanceUID: '1', modality: 'SR', manufacturer: 'lens-pacs' })).toMatch(/Manufacturer/);
    expect(ownOutputReason({ seriesInstanceUID: '2', modality: 'SEG', seriesDescription: 'LENS lesions (lens-ulb 1.0)' })).toMatch(/SeriesDescription/);
    expect(ownOutputReason({ seriesInstanceUID: '3', modality: 'SR', manufacturer: 'ACME', seriesDescription: 'Dose report' })).toBeUndefined();
    expect(ownOutputReason({ seriesInstanceUID: '4', modality: 'CT', manufacturer: 'lens-pacs' })).toBeUndefined();
    const { own, others } = splitOwnOutputs([{ seriesInstanceUID: '1', modality: 'SR', manufacturer: 'lens-pacs' }, { seriesInstanceUID: '5', modality: 'CT' }]);
    expect(own.map((o) => o.series.seriesInstanceUID)).toEqual(['1']);
    expect(others.map((o) => o.seriesInstanceUID)).toEqual(['5']);
  });
});

describe('idempotency key', () => {
  test('depends on study, series and model version', () => {
    expect(idempotencyKey('1.2', '1.2.3', 'lens-ulb-1.0')).toBe('1.2|1.2.3|lens-ulb-1.0');
    expect(idempotencyKey('1.2', '1.2.3', 'lens-ulb-1.1')).not.toBe(idempotencyKey('1.2', '1.2.3', 'lens-ulb-1.0'));
    expect(() => idempotencyKey('1.2', '', 'm')).toThrow(/series/);
  });
});

describe('error classification', () => {
  test('unreachable PACS, 5xx and timeouts are transient; 4xx and corrupt data are not', () => {
    expect(classifyError(new PacsUnreachableError('http://x', 3, 'ECONNREFUSED'))).toMatchObject({ transient: true, reason: 'pacs-unreachable' });
    expect(classifyError(new PacsHttpError(503, 'GET', 'http://x', '', 1))).toMatchObject({ transient: true, reason: 'pacs-http-503' });
    expect(classifyError(new PacsHttpError(404, 'GET', 'http://x', '', 1))).toMatchObject({ transient: false });
    expect(classifyError(Object.assign(new Error('t'), { name: 'TimeoutError' })).transient).toBe(true);
    expect(classifyError(Object.assign(new Error('slice gap'), { name: 'VolumeError' }))).toMatchObject({ transient: false, reason: 'volume-invalid' });
    expect(classifyError(new TypeError('x is undefined'))).toMatchObject({ transient: false, reason: 'internal' });
  });
});

describe('poll windows', () => {
  test('each window starts lookback before the previous end, so windows overlap; the StudyDate range is open-ended', () => {
    const first = pollWindow(new Date(2024, 0, 2, 0, 30), undefined, 60);
    expect(first.from).toEqual(new Date(2024, 0, 1, 23, 30));
    expect(first.studyDate).toBe('20240101-');
    const next = pollWindow(new Date(2024, 0, 2, 0, 31), first.to, 60);
    expect(next.from.getTime()).toBeLessThan(first.to.getTime());
    // After an outage the window reaches back to where the last one ended, not just `lookback` before now.
    const late = pollWindow(new Date(2024, 0, 5), first.to, 60);
    expect(late.studyDate).toBe('20240101-');
  });
  test('the StudyDate range covers whole days before today: a study acquired before midnight and sent after it is found', () => {
    // 10:00 with a 2 h overlap alone would ask only for today's StudyDate.
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 0).studyDate).toBe('20240301-');
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 1).studyDate).toBe('20240229-');
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), undefined, 120, 7).studyDate).toBe('20240223-');
    // The longer of the two reaches wins: an outage of 3 days with a 1-day lookback.
    expect(pollWindow(new Date(2024, 2, 4, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 1).studyDate).toBe('20240301-');
  });
  test('a study is stable when its instance count did not change between polls', () => {
    expect(isStable(undefined, 10)).toBe(false);
    expect(isStable(9, 10)).toBe(false);
    expect(isStable(10, 10)).toBe(true);
    expect(isStable(0, 0)).toBe(false);
  });
});

describe('select stage', () => {
  const rules = selectionSchema.parse({});
  const ct = (uid: string, n: number): SeriesInfo => ({ studyInstanceUID: '1.9', seriesInstanceUID: uid, modality: 'CT', instances: new Array(n).fill({}) });
  const deps = (over: Partial<SelectDeps> = {}): SelectDeps => ({
    modelVersion: 'm-1',
    rules,
    listSeries: async () => [{ seriesInstanceUID: '1.9.1', modality: 'CT' }],
    seriesInfo: async (_s, uid) => ct(uid, 40),
    selectSeries: (series) => ({ selected: series[0], why: 'only one', rejected: [] }),
    findSucceeded: () => undefined,
    ...over,
  });
  const run = (d: SelectDeps, force = false) => selectStage(d).run({ studyInstanceUID: '1.9', force });
  const skipReason = (p: Promise<unknown>) =>
    p.then(
      () => 'not skipped',
      (e) => (e instanceof SkipStudy ? e.reason : `error ${e}`),
    );

  test('selects and keys the work', async () => {
    const s = await run(deps());
    expect(s.idempotencyKey).toBe('1.9|1.9.1|m-1');
  });
  test('skips a study holding only our outputs, non-CT studies and scout-only studies with reasons', async () => {
    expect(await skipReason(run(deps({ listSeries: async () => [{ seriesInstanceUID: '7', modality: 'SR', manufacturer: 'lens-pacs' }] })))).toBe('own-output');
    expect(await skipReason(run(deps({ listSeries: async () => [{ seriesInstanceUID: '8', modality: 'MR' }] })))).toBe('no-ct');
    const scoutOnly = deps({ selectSeries: (series) => ({ why: 'none', rejected: [{ series: series[0], reasons: ['localizer'] }] }) });
    await expect(run(scoutOnly)).rejects.toThrow(/localizer/);
  });
  test('a re-announcement caused by our own SR/SEG is skipped as own-output; a re-run is forced', async () => {
    const prev = { id: 4 } as never;
    const withOutputs = deps({
      listSeries: async () => [{ seriesInstanceUID: '1.9.1', modality: 'CT' }, { seriesInstanceUID: '7', modality: 'SR', manufacturer: 'lens-pacs' }],
      findSucceeded: () => prev,
    });
    expect(await skipReason(run(withOutputs))).toBe('own-output');
    expect(await skipReason(run(deps({ findSucceeded: () => prev })))).toBe('already-analysed');
    expect((await run(withOutputs, true)).series.seriesInstanceUID).toBe('1.9.1');
  });
});
