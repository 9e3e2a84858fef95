/**
 * Damaged series on disk (issue 11): copies of a small `lens synth` series, each damaged as a careless sender or a
 * broken export would (DCMTK's dcmodify, or byte edits), through `lens inspect` and once `lens detect --no-report`
 * as a user runs them. Each is either refused (exit 2, one line on stderr, the reason on stdout) or analysed with the
 * excluded file named; none is analysed silently.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readHeader } from '../../../src/dicom/load-folder';

const ROOT = path.resolve(__dirname, '../../..');
const SLICES = 24;

let tmp: string;
let base: string;
/** File names of the base series sorted by position along the head-foot axis. */
let byZ: string[];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-damaged-'));
  execFileSync(
    process.execPath,
    ['bin/lens.js', 'synth', '--out', path.join(tmp, 'synth'), '--seed', '11', '--size', '32', '--slices', String(SLICES), '--thickness', '2.5', '--lesions', '1'],
    { cwd: ROOT, stdio: 'ignore' },
  );
  base = path.join(tmp, 'synth', fs.readdirSync(path.join(tmp, 'synth')).find((d) => d.startsWith('synth-'))!, 'dicom');
  const files = fs.readdirSync(base).filter((f) => f.endsWith('.dcm'));
  const z = new Map<string, number>();
  for (const f of files) {
    const h = await readHeader(path.join(base, f));
    if (typeof h === 'string') throw new Error(`${f}: ${h}`);
    z.set(f, h.imagePositionPatient![2]);
  }
  byZ = [...files].sort((a, b) => z.get(a)! - z.get(b)!);
  expect(byZ).toHaveLength(SLICES);
}, 60000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TOP = () => byZ[SLICES - 1];
const MIDDLE = () => byZ[SLICES >> 1];

/** A copy of the base series; `damage` edits files of it in place. */
function copy(name: string, damage: (dir: string) => void): string {
  const d = path.join(tmp, name);
  fs.cpSync(base, d, { recursive: true });
  damage(d);
  return d;
}

function dcmodify(dir: string, file: string, ...args: string[]) {
  execFileSync('dcmodify', ['-nb', ...args, path.join(dir, file)], { stdio: 'ignore' });
}

function lens(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/lens.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120000, env: { ...process.env, LENS_LOG_LEVEL: 'warn' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectAnalysedWithout(r: ReturnType<typeof lens>, file: string, reason: RegExp, slices = SLICES - 1) {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`dimensions +32 x 32 x ${slices} `));
  const line = r.stdout.split('\n').find((l) => l.startsWith('Excluded: ') && l.includes(`(${file})`));
  expect(line).toMatch(reason);
}

function expectRefused(r: ReturnType<typeof lens>, reason: RegExp) {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stdout + r.stderr).toMatch(reason);
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

test.each([
  ['RescaleSlope 0', ['-m', '(0028,1053)=0'], /RescaleSlope 0 is outside 0\.01\.\.100/],
  ['RescaleSlope NaN', ['-m', '(0028,1053)=NaN'], /RescaleSlope is empty or not a number/],
  ['RescaleSlope 1e308', ['-m', '(0028,1053)=1e308'], /RescaleSlope 1e\+308 is outside/],
  ['RescaleIntercept NaN', ['-m', '(0028,1052)=NaN'], /RescaleIntercept is empty or not a number/],
  ['Modality MR', ['-m', '(0008,0060)=MR'], /Modality MR in a CT series/],
  ['no Modality', ['-e', '(0008,0060)'], /no Modality in a CT series/],
  ['another StudyInstanceUID', ['-m', '(0020,000d)=1.2.826.0.1.3680043.2.1125.999'], /StudyInstanceUID 1\.2\.826\.0\.1\.3680043\.2\.1125\.999 is not the series' study/],
])('%s on the top slice: analysed without it, the file named', (name, args, reason) => {
  const d = copy(`top-${name.replace(/\W+/g, '-')}`, (dir) => dcmodify(dir, TOP(), ...args));
  expectAnalysedWithout(lens('inspect', d), TOP(), reason);
});

test('RescaleSlope 0 on a middle slice: refused, a gap would open', () => {
  const d = copy('middle-slope0', (dir) => dcmodify(dir, MIDDLE(), '-m', '(0028,1053)=0'));
  expectRefused(lens('inspect', d), /RescaleSlope 0 is outside .*gap/);
});

test('three damaged slices at the bottom: more than may be left out at one end, refused', () => {
  const d = copy('bottom-three', (dir) => byZ.slice(0, 3).forEach((f) => dcmodify(dir, f, '-m', '(0008,0060)=MR')));
  expectRefused(lens('inspect', d), /3 damaged instances at one end of the stack \(at most 2/);
});

/** The middle file copied under another name, its last pixel bytes changed when `change`. */
function withCopyOfMiddle(name: string, change: boolean): string {
  return copy(name, (dir) => {
    const bytes = fs.readFileSync(path.join(dir, MIDDLE()));
    // Native pixel data is the last element of these files: the last stored values change, the header does not.
    if (change) for (let i = bytes.length - 64; i < bytes.length; i++) bytes[i] ^= 0x5a;
    fs.writeFileSync(path.join(dir, 'copy-of-middle.dcm'), bytes);
  });
}

test('a second file of one SOP instance with other pixels: refused, both files named', () => {
  expectRefused(lens('inspect', withCopyOfMiddle('dup-other', true)), new RegExp(`two files hold instance [\\d.]+ \\((${MIDDLE()}|copy-of-middle\\.dcm)\\) with different pixels \\(the other is (${MIDDLE()}|copy-of-middle\\.dcm)\\)`));
});

test('a byte-identical second file: analysed once, the copy named', () => {
  const r = lens('inspect', withCopyOfMiddle('dup-same', false));
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`dimensions +32 x 32 x ${SLICES} `));
  expect(r.stdout).toMatch(/Tolerated: 1 duplicate file of instances already read \(identical pixels\) dropped: (copy-of-middle\.dcm|CT\d+\.dcm)/);
});

test('lens detect: a truncated top file and a damaged bottom slice are both named in the summary', () => {
  const d = copy('detect-trunc', (dir) => {
    const top = path.join(dir, TOP());
    fs.truncateSync(top, fs.statSync(top).size - 500);
    dcmodify(dir, byZ[0], '-m', '(0028,1053)=0');
  });
  const inspected = lens('inspect', d);
  expectAnalysedWithout(inspected, byZ[0], /RescaleSlope 0/, SLICES - 2);
  // The truncated file is named either as a file of the series left out or as an unreadable file of the folder.
  expect(inspected.stdout).toMatch(new RegExp(`(Excluded: .*${TOP()}|Skipped 1 unreadable file: ${TOP()} \\(.*\\))`));

  const r = lens('detect', d, '--out', path.join(tmp, 'detect-out'), '--no-report');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`: ${SLICES - 2} slices 32x32`));
  expect(r.stdout).toMatch(new RegExp(`tolerated: excluded instance [\\d.]+ \\(${byZ[0]}\\): RescaleSlope 0 is outside`));
  expect(r.stdout).toMatch(new RegExp(`(tolerated: excluded .*${TOP()}|skipped 1 unreadable file: ${TOP()} \\(.*\\))`));
}, 120000);
