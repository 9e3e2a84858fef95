/**
 * The fuzz corpus (test/helpers/fuzz-corpus.ts, seed 1) through the offline tools as a user runs them, one child
 * process per case: every malformed file ends in exit 2 with one line naming the file and its problem (no stack
 * trace, no crash, no hang), and a series with one damaged file is analysed with that file named as excluded, or
 * refused in one line. Each run must stay under 10 s of CPU and 1 GiB: a limit of safety (a file that makes the reader
 * allocate what it says, or recurse as deep as it nests, blows far past both), not a benchmark.
 * `node -r tsx/cjs scripts/fuzz-corpus.ts` runs the whole corpus with figures per class.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_FUZZ_OPTIONS, generateCorpus, runLens, verdict, writeCorpus, type FuzzCase } from '../../helpers/fuzz-corpus';

const LIMIT_S = 10;
const LIMIT_RSS_MB = 1024;

/** One case per class of malformed file (the harshest where a class has several), and what its message says. */
const SINGLE: Record<string, RegExp> = {
  'truncated/in-pixels-0': /truncated: element \(7FE0,0010\)/,
  'bad-preamble/dicm-0': /not DICOM/,
  'length-past-eof/element-0': /truncated: element \([0-9A-F]{4},[0-9A-F]{4}\) says \d+ bytes/,
  'huge-frames/frames-100000000': /NumberOfFrames 100000000 exceeds the limit/,
  'huge-rows-columns/rows-65535': /image size 65535 x 65535 exceeds the limit/,
  'deep-nesting/depth-100000': /nested deeper than 32 levels/,
  'bad-transfer-syntax/garbage-uid': /can be analysed/,
  'pixel-data-wrong-size/half': /pixel data needs 524288 bytes .* holds 262144/,
  'undefined-length-garbage/private-ob': /malformed: element \(0009,1010\)/,
  'non-dicom/random-0': /not DICOM/,
  'byte-flips/header-0': /lens: /,
};

let tmp: string;
let cases: Map<string, { c: FuzzCase; dir: string }>;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-fuzz-'));
  const all = generateCorpus({ ...DEFAULT_FUZZ_OPTIONS, seed: 1, variants: 1 });
  const chosen = all.filter((c) => SINGLE[`${c.cls}/${c.name}`] || c.cls === 'damaged-series');
  const dirs = writeCorpus(chosen, tmp);
  cases = new Map(chosen.map((c, k) => [`${c.cls}/${c.name}`, { c, dir: dirs[k] }]));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(key: string, args: (dir: string) => string[]) {
  const { c, dir } = cases.get(key)!;
  // Killed as a hang well past the limit: the limit itself is asserted on CPU time, since wall time on a shared
  // machine is mostly node's own start.
  const o = runLens(args(dir), 6 * LIMIT_S * 1000);
  return { c, o, v: verdict(c, o) };
}

test.each(Object.entries(SINGLE))('%s: exit 2, one line naming the file and the problem, bounded', (key, message) => {
  const { c, o, v } = run(key, (dir) => ['inspect', dir]);
  expect({ key, v, stderr: o.stderr }).toEqual({ key, v: 'clean-error', stderr: expect.stringMatching(message) });
  if (!/bad-transfer-syntax/.test(key)) expect(o.stderr).toContain(Object.keys(c.files)[0]);
  expect(o.cpuSeconds).toBeLessThan(LIMIT_S);
  expect(o.maxRssMb).toBeLessThan(LIMIT_RSS_MB);
});

test.each(['truncated-last-slice', 'one-huge-frames-slice'])('lens detect on a series with one damaged file (%s) names it as excluded', (name) => {
  const out = path.join(tmp, `out-${name}`);
  const { c, o, v } = run(`damaged-series/${name}`, (dir) => ['detect', '--no-report', '--out', out, dir]);
  expect(v).toBe('success');
  expect(o.stdout).toContain(`excluded instance`);
  expect(o.stdout).toContain(c.damaged);
  // The volume holds the other slices only.
  expect(o.stdout).toMatch(new RegExp(`: ${Object.keys(c.files).length - 1} slices`));
  expect(o.maxRssMb).toBeLessThan(LIMIT_RSS_MB);
});

test.each(['one-deep-slice', 'one-non-image'])('lens inspect on a series with one damaged file (%s): named, or the series refused in one line', (name) => {
  const { o, v } = run(`damaged-series/${name}`, (dir) => ['inspect', '--headers', dir]);
  expect(['success', 'clean-error']).toContain(v);
  expect(o.cpuSeconds).toBeLessThan(LIMIT_S);
  expect(o.maxRssMb).toBeLessThan(LIMIT_RSS_MB);
});
