/**
 * The fuzz corpus through the offline tools, with figures per class:
 *   node -r tsx/cjs scripts/fuzz-corpus.ts [--seed 1] [--out DIR] [--variants 3] [--no-detect] [--timeout 10]
 * writes the corpus (test/helpers/fuzz-corpus.ts; generated from a real slice of ../shared/data/ct, deterministic
 * by seed) under DIR, runs `lens inspect` and `lens detect --no-report` on every case in a child process, and
 * prints per class: cases, clean errors, right successes, wrong (silent) successes, unclean errors, crashes,
 * hangs, max wall and CPU time and max RSS. Exit status 1 when any case crashed, hung, took more than the limit
 * of CPU time (--timeout, 10 s) or 1 GiB, or succeeded silently wrong.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { countOption, numberOption, parseOptions } from './args';
import { DEFAULT_FUZZ_OPTIONS, generateCorpus, runLens, verdict, writeCorpus, type Verdict } from '../test/helpers/fuzz-corpus';

const MAX_RSS_MB = 1024;

function main(): number {
  const o = parseOptions(process.argv.slice(2), { values: ['seed', 'out', 'variants', 'timeout'], flags: ['no-detect'] });
  const seed = countOption(o.seed, 'seed', 1);
  const variants = countOption(o.variants, 'variants', DEFAULT_FUZZ_OPTIONS.variants);
  const limitS = numberOption(o.timeout, 'timeout', 10);
  const out = o.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-fuzz-'));
  const detect = !o['no-detect'];
  const cases = generateCorpus({ ...DEFAULT_FUZZ_OPTIONS, seed, variants });
  const dirs = writeCorpus(cases, out);
  process.stdout.write(`corpus: ${cases.length} cases (seed ${seed}) in ${out}\n`);
  const detectOut = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-fuzz-out-'));
  type Row = Record<Verdict, number> & { cases: number; runs: number; maxS: number; maxCpuS: number; maxRssMb: number; overLimit: number };
  const rows = new Map<string, Row>();
  const failures: string[] = [];
  cases.forEach((c, k) => {
    const runs: [string, string[]][] = [['inspect', ['inspect', dirs[k]]]];
    if (detect) runs.push(['detect', ['detect', '--no-report', '--out', detectOut, dirs[k]]]);
    const row = rows.get(c.cls) ?? { cases: 0, runs: 0, 'clean-error': 0, success: 0, 'wrong-success': 0, 'unclean-error': 0, crash: 0, hang: 0, maxS: 0, maxCpuS: 0, maxRssMb: 0, overLimit: 0 };
    row.cases++;
    for (const [tool, args] of runs) {
      // A damaged series is analysed by detect (minutes of inference are not the file's cost): its limit is wider.
      // Killed (a hang) past 6 x the limit of wall time: on a shared machine node's own start can take seconds.
      const o = runLens(args, (tool === 'detect' && c.damaged ? 20 : 6) * limitS * 1000);
      const v = verdict(c, o);
      row.runs++;
      row[v]++;
      row.maxS = Math.max(row.maxS, o.seconds);
      row.maxCpuS = Math.max(row.maxCpuS, o.cpuSeconds || 0);
      row.maxRssMb = Math.max(row.maxRssMb, o.maxRssMb || 0);
      const over = !c.damaged && (o.cpuSeconds > limitS || o.maxRssMb > MAX_RSS_MB);
      if (over) row.overLimit++;
      if (over || !['clean-error', 'success'].includes(v)) failures.push(`${tool} ${c.cls}/${c.name}: ${v}, exit ${o.code}, ${o.seconds.toFixed(1)} s, ${Math.round(o.maxRssMb)} MB: ${o.stderr.trim().split('\n')[0]}`);
    }
    rows.set(c.cls, row);
  });
  const head = ['class', 'cases', 'runs', 'clean-err', 'success', 'wrong-ok', 'unclean', 'crash', 'hang', 'over', 'max s', 'max cpu s', 'max MB'];
  const table = [head, ...[...rows].map(([cls, r]) => [cls, r.cases, r.runs, r['clean-error'], r.success, r['wrong-success'], r['unclean-error'], r.crash, r.hang, r.overLimit, r.maxS.toFixed(1), r.maxCpuS.toFixed(1), Math.round(r.maxRssMb)].map(String))];
  const widths = head.map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) process.stdout.write(`${r.map((x, i) => (i ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ')}\n`);
  for (const f of failures) process.stdout.write(`FAIL ${f}\n`);
  fs.rmSync(detectOut, { recursive: true, force: true });
  return failures.length ? 1 : 0;
}

process.exitCode = main();
