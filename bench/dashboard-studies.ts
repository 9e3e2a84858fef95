/**
 * The dashboard's study list (JobStore.listStudies) over a large embedded store: --studies studies, each analysed
 * once (study information recorded) and re-announced once by its own outputs (a folded skip). Printed: the time of
 * the first page, a deep page, a state filter and an accession search (median of --repeat), so that the cost of
 * the one-row-per-study query (window functions over every study analysis) is known per store size.
 *
 *   nice node -r tsx/cjs bench/dashboard-studies.ts [--studies 20000] [--repeat 5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { countOption, parseOptions } from '../scripts/args';
import { SqliteJobStore } from '../src/jobs/sqlite-store';
import type { JobCompletion, StudyQuery } from '../src/jobs/types';

const ok: JobCompletion = { kind: 'succeeded', outputs: {}, lesions: [], timingsMs: {}, idempotencyKey: 'k', seriesInstanceUID: 's', modelVersion: 'm' };
const own: JobCompletion = { kind: 'skipped', reason: 'own-output', message: 'ours' };

async function main(): Promise<void> {
  const v = parseOptions(process.argv.slice(2), { values: ['studies', 'repeat'] });
  const o = { studies: countOption(v.studies, 'studies', 20000), repeat: Math.max(1, countOption(v.repeat, 'repeat', 5)) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-bench-dashboard-'));
  const store = new SqliteJobStore({ file: path.join(dir, 'jobs.db'), maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  try {
    const t0 = performance.now();
    for (let i = 0; i < o.studies; i++) {
      const uid = `1.2.${i + 1}`;
      for (const result of [ok, own]) {
        await store.enqueue({ studyInstanceUID: uid, source: 'changes' }, i);
        const j = (await store.claim('w', 60000, { now: i }))!;
        if (result === ok)
          await store.recordStudy(j.id, 'w', { studyDate: '20240105', studyDescription: 'CT', modality: 'CT', accessionNumber: `A${i}`, seriesInstanceUID: `${uid}.1`, instances: 100 }, i);
        await store.complete(j.id, 'w', result, i);
      }
    }
    process.stdout.write(`filled ${o.studies} studies (${o.studies * 2} jobs) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const cases: [string, StudyQuery][] = [
      ['first page (25)', { limit: 25 }],
      ['page 400 (25)', { limit: 25, offset: 25 * 399 }],
      ['state=succeeded', { state: 'succeeded', limit: 25 }],
      ['accession search', { search: `A${Math.floor(o.studies / 2)}`, limit: 25 }],
      ['UID prefix search', { search: '1.2.1', limit: 25 }],
    ];
    for (const [name, q] of cases) {
      const ms: number[] = [];
      for (let r = 0; r < o.repeat; r++) {
        const t = performance.now();
        await store.listStudies(q);
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      process.stdout.write(`${name.padEnd(20)} median ${ms[Math.floor(ms.length / 2)].toFixed(0)} ms\n`);
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
