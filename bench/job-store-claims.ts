/**
 * The job store alone: how many jobs per second N stores (each with its own connection pool, as N `lens serve`
 * processes have) claim and complete from one PostgreSQL, next to the embedded SQLite store. Each round enqueues
 * --jobs jobs into an empty database, then every store runs --loops claim/complete loops until none is left;
 * printed: jobs/s and its ratio to one store, and the claims each store made (every job is claimed exactly once,
 * checked). On this 2-core machine the server and the clients share the cores: the figure is the store's ceiling
 * per core count, far above what the analysis (seconds per study) asks of it.
 *
 *   nice node -r tsx/cjs bench/job-store-claims.ts [--jobs 500] [--stores 1,2,3] [--loops 4]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { countOption, listOption, parseOptions } from '../scripts/args';
import { PostgresProcess } from '../src/jobs/postgres-process';
import { PostgresJobStore } from '../src/jobs/postgres-store';
import { SqliteJobStore } from '../src/jobs/sqlite-store';
import type { Job, JobStore } from '../src/jobs/types';

const policy = { maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } };

async function round(stores: JobStore[], jobs: number, loops: number): Promise<{ perSecond: number; perStore: number[] }> {
  await Promise.all(Array.from({ length: jobs }, (_, i) => stores[i % stores.length].enqueue({ studyInstanceUID: `1.${i}`, source: 'manual' })));
  const seen = new Set<number>();
  const perStore = stores.map(() => 0);
  const t0 = performance.now();
  await Promise.all(
    stores.flatMap((store, s) =>
      Array.from({ length: loops }, async (_, k) => {
        for (let job: Job | undefined; (job = await store.claim(`s${s}-w${k}`, 60000)); ) {
          if (seen.has(job.id)) throw new Error(`job ${job.id} claimed twice`);
          seen.add(job.id);
          perStore[s]++;
          await store.complete(job.id, `s${s}-w${k}`, { kind: 'skipped', reason: 'bench', message: 'claimed' });
        }
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (seen.size !== jobs) throw new Error(`${seen.size} of ${jobs} jobs claimed`);
  return { perSecond: jobs / seconds, perStore };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['jobs', 'stores', 'loops'] });
  const jobs = countOption(o.jobs, 'jobs', 500);
  const loops = countOption(o.loops, 'loops', 4);
  const counts = (o.stores ? listOption(o.stores) : ['1', '2', '3']).map((s) => countOption(s, 'stores', 1));
  console.log(`${jobs} jobs, ${loops} claim loops per store, ${os.cpus().length} cores`);

  const pg = await PostgresProcess.start();
  try {
    let base: number | undefined;
    for (const n of counts) {
      const url = await pg.createDatabase(`bench_${n}`);
      const stores = await Promise.all(Array.from({ length: n }, () => PostgresJobStore.open({ url, ...policy, poolSize: loops })));
      try {
        const r = await round(stores, jobs, loops);
        base ??= r.perSecond;
        console.log(`postgresql  ${n} store(s): ${r.perSecond.toFixed(0)} jobs/s (x${(r.perSecond / base).toFixed(2)}), claims per store ${r.perStore.join('/')}`);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    }
  } finally {
    await pg.dispose();
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-bench-sqlite-'));
  try {
    const store = new SqliteJobStore({ file: path.join(dir, 'jobs.sqlite'), ...policy });
    const r = await round([store], jobs, loops);
    console.log(`sqlite      1 store (synchronous, one process): ${r.perSecond.toFixed(0)} jobs/s`);
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
