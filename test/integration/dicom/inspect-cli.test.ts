/** `lens inspect` as a user runs it: a real study, and bad input that must give one clear line and a non-zero exit. */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');
const CT = path.resolve(ROOT, '../shared/data/ct');
const SERIES = path.join(CT, 'lung-dx-a0001/series2_5mm_kernelL');

function inspect(...args: string[]) {
  const r = spawnSync('node', ['bin/lens.js', 'inspect', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectCleanFailure(r: ReturnType<typeof inspect>, message: RegExp) {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(message);
  expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-inspect-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, Buffer | string>): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  for (const [f, data] of Object.entries(files)) fs.writeFileSync(path.join(d, f), data);
  return d;
}

test('--json reports the selected series and its geometry', () => {
  const r = inspect(path.join(CT, 'lung-dx-a0001'), '--json');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.selected.convolutionKernel).toBe('B');
  expect(report.volume.dims).toEqual([512, 512, 64]);
  expect(report.volume.spacing[2]).toBeCloseTo(5, 6);
  expect(report.volume.huRange[0]).toBeLessThan(report.volume.huRange[1]);
  expect(report.rejected[0].reasons[0]).toMatch(/kernel L/);
});

test('not DICOM', () => {
  expectCleanFailure(inspect(folder('text', { 'a.dcm': 'this is not DICOM\n'.repeat(20) })), /not DICOM/);
});

test('truncated file', () => {
  const first = fs.readFileSync(path.join(SERIES, '1-01.dcm'));
  expectCleanFailure(inspect(folder('trunc-pixels', { 'a.dcm': first.subarray(0, 300000) })), /truncated/);
  expectCleanFailure(inspect(folder('trunc-header', { 'a.dcm': first.subarray(0, 900) })), /truncated/);
});

test('a non-CT series', () => {
  const d = folder('mr', {});
  for (const f of fs.readdirSync(SERIES).slice(0, 25)) fs.copyFileSync(path.join(SERIES, f), path.join(d, f));
  execFileSync('dcmodify', ['-nb', '-m', '(0008,0060)=MR', ...fs.readdirSync(d).map((f) => path.join(d, f))]);
  const r = inspect(d);
  expectCleanFailure(r, /no CT series/);
  expect(r.stdout).toMatch(/modality is MR, not CT/);
});

test('a folder with no CT, an empty folder and a missing folder', () => {
  expectCleanFailure(inspect(path.join(CT, 'single-slices')), /no CT series/);
  expectCleanFailure(inspect(folder('empty', {})), /no files/);
  expectCleanFailure(inspect(path.join(tmp, 'does-not-exist')), /no such file or folder/);
});
