import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HarvestOptionError, parseDate, readStudyList, studyDateRanges } from '../../../src/harvest/archives';
import { ByteRateLimit, takeBytes, throttledSource } from '../../../src/harvest/throttled-source';

describe('the archive scan\'s StudyDate windows', () => {
  const d = (y: number, m: number, day: number) => new Date(y, m - 1, day);

  test('windows of N days cover the range without gap or overlap; the last is open without --until', () => {
    expect(studyDateRanges({ since: d(2024, 1, 1), until: d(2024, 1, 20) }, 7)).toEqual(['20240101-20240107', '20240108-20240114', '20240115-20240120']);
    expect(studyDateRanges({ since: d(2024, 2, 27) }, 7, d(2024, 3, 5))).toEqual(['20240227-20240304', '20240305-']);
    expect(studyDateRanges({ since: d(2024, 1, 1), until: d(2024, 1, 1) }, 7)).toEqual(['20240101-20240101']);
  });

  test('no --since: one query (the whole archive, also studies without a date) or everything up to --until', () => {
    expect(studyDateRanges({}, 7)).toEqual(['']);
    expect(studyDateRanges({ until: d(2023, 12, 31) }, 7)).toEqual(['-20231231']);
  });

  test('dates and the list of completely annotated studies are checked', () => {
    expect(parseDate('2024-02-29', '--since')).toEqual(d(2024, 2, 29));
    expect(parseDate('20240229', '--since')).toEqual(d(2024, 2, 29));
    expect(() => parseDate('2023-02-29', '--since')).toThrow(HarvestOptionError);
    expect(() => parseDate('yesterday', '--until')).toThrow(/--until must be a date/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harvest-list-'));
    try {
      const f = path.join(dir, 'complete.txt');
      fs.writeFileSync(f, '# studies read twice\n1.2.3\n\n 1.2.4 \n');
      expect([...readStudyList(f)]).toEqual(['1.2.3', '1.2.4']);
      fs.writeFileSync(f, '1.2.3\nPatient Name\n');
      expect(() => readStudyList(f)).toThrow(/"Patient Name" is not a StudyInstanceUID/);
      expect(() => readStudyList(path.join(dir, 'missing.txt'))).toThrow(/ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the limit on PACS bytes per second', () => {
  test('a token bucket of one second: a read beyond what was saved up waits for the rest', () => {
    const rate = 1000;
    let r = takeBytes({ available: rate, at: 0 }, 600, rate, 0);
    expect(r.waitMs).toBe(0);
    r = takeBytes(r.bucket, 600, rate, 0);
    // 200 bytes short at 1000 bytes/s: 200 ms.
    expect(r.waitMs).toBeCloseTo(200, 6);
    // 2 s later at most one second's worth is available again, never more.
    r = takeBytes(r.bucket, 1000, rate, 2000);
    expect(r.waitMs).toBe(0);
    expect(r.bucket.available).toBe(0);
  });

  test('every frame read through the throttled source is counted, metadata is not', async () => {
    const taken: number[] = [];
    const limit = { take: async (b: number) => void taken.push(b) } as unknown as ByteRateLimit;
    const frame = new Int16Array(64 * 64);
    const inner = {
      description: 'test', frameConcurrency: 2,
      listSeries: async () => [], seriesMetadata: async () => { throw new Error('unused'); }, instanceMetadata: async () => ({}),
      frameReader: () => async () => frame,
    };
    const s = throttledSource(inner, limit);
    expect(s.description).toBe('test');
    await s.listSeries('1.2');
    const read = s.frameReader('1.2', '1.2.3', []);
    await read('1.2.3.4', 1);
    await read('1.2.3.5', 1);
    expect(taken).toEqual([8192, 8192]);
    expect(() => new ByteRateLimit(0)).toThrow(/positive/);
  });
});
