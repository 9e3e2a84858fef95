/** `lens doctor`'s harvest checks: the schedule (cron, window, working hours) and the dataset folder. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { dailyStarts, outputCheck, scheduleCheck } from '../../../src/harvest/doctor-checks';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-doctor-harvest-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the runs of a day are read from the minute and hour fields', () => {
  expect(dailyStarts('0 2 * * *')).toEqual([2]);
  expect(dailyStarts('30 1,3 * * *')).toEqual([1.5, 3.5]);
  expect(dailyStarts('0 */6 * * *')).toEqual([0, 6, 12, 18]);
  expect(dailyStarts('0 0 2 * * *')).toEqual([2]); // with a seconds field
  expect(dailyStarts('0 L * * *')).toBeUndefined();
});

test('the schedule: valid and off-peak passes; overlapping runs, working hours and a bad expression are reported', () => {
  expect(scheduleCheck({ enabled: true, schedule: '0 2 * * *', windowHours: 4 })).toEqual({ name: 'harvest schedule', ok: true, detail: '"0 2 * * *", 1 run a day from 02:00, window 4 h' });
  const overlap = scheduleCheck({ enabled: true, schedule: '0 */2 * * *', windowHours: 4 });
  expect(overlap).toMatchObject({ ok: true, note: 'warn' });
  expect(overlap.detail).toContain('it starts every 2 h but each window lasts 4 h');
  const day = scheduleCheck({ enabled: true, schedule: '0 22 * * *', windowHours: 12 });
  expect(day.note).toBe('warn');
  expect(day.detail).toContain('the window from 22:00 to 10:00 reaches into working hours (8:00-18:00)');
  expect(scheduleCheck({ enabled: true, schedule: 'nightly', windowHours: 4 })).toMatchObject({ ok: false, detail: 'harvest.schedule "nightly" is not a valid cron expression' });
  // Disabled: the service works without a harvest, so a problem only warns.
  expect(scheduleCheck({ enabled: false, schedule: 'nightly', windowHours: 4 })).toMatchObject({ ok: true, note: 'warn' });
});

test('the output folder: writable, to be created, or not a folder', () => {
  fs.mkdirSync(path.join(tmp, 'ds', 'studies'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'ds', 'studies', 'a.json'), '{}');
  expect(outputCheck({ enabled: true, outDir: path.join(tmp, 'ds') })).toEqual({ name: 'harvest output', ok: true, detail: `${path.join(tmp, 'ds')} is writable (1 study record)` });
  expect(outputCheck({ enabled: true, outDir: path.join(tmp, 'new', 'ds') }).detail).toBe(`${path.join(tmp, 'new', 'ds')} will be created in ${tmp} (writable)`);
  fs.writeFileSync(path.join(tmp, 'file'), '');
  expect(outputCheck({ enabled: true, outDir: path.join(tmp, 'file') })).toMatchObject({ ok: false, detail: `${path.join(tmp, 'file')} is not a folder` });
});

test('lens doctor runs them: an enabled harvest with a broken schedule fails the doctor', () => {
  // A child process: the doctor's model check opens an ONNX session, whose threads outlive a jest worker.
  const env = { ...process.env, LENS__HARVEST__ENABLED: 'true', LENS__HARVEST__SCHEDULE: 'every night', LENS__HARVEST__OUTDIR: path.join(tmp, 'ds'), LENS_LOG_LEVEL: 'warn' };
  const r = spawnSync(process.execPath, [path.join(__dirname, '../../../bin/lens.js'), 'doctor', '--no-pacs'], { env, encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stdout.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual(['FAIL harvest schedule: harvest.schedule "every night" is not a valid cron expression']);
  expect(r.stdout).toContain(`OK   harvest output: ${path.join(tmp, 'ds')} is writable (1 study record)`);
});
