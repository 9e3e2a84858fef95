/**
 * Throughput of 1, 2 and 3 `lens serve` worker processes on the same burst (issue 14): each round starts W nodes
 * on a fresh job store (PostgreSQL by default) and waits until N small synthetic CT studies are analysed. By
 * default the studies are sent into the real Orthanc first and then enqueued all at once through the API (re-run),
 * so that the burst measures the workers, not how fast storescu and Orthanc take studies in (on this machine
 * ingest, ~25 studies/min, is slower than analysis); --ingest sends them during the round instead (change feed,
 * push off) and measures the whole path. Printed per round: studies/min and its ratio
 * to one worker; where a study's time went: queue wait (event received -> claimed by a worker) and the stages,
 * split into PACS I/O (selected: QIDO/metadata, fetched: frames, stored: STOW + verification) and CPU (detected,
 * built); and how busy the machine's cores were (/proc/stat, every process on the machine: other work counts).
 * On a machine with C cores the ratio is bounded by C / (CPU-bound share per study): more workers shorten the
 * queue wait and overlap one study's I/O waits with another's CPU work, but cannot add cores.
 *
 *   nice node -r tsx/cjs bench/throughput.ts [--studies 12] [--workers 1,2,3] [--store postgres|sqlite] [--seed 7] [--ingest]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PostgresProcess } from '../src/jobs/postgres-process';
import type { Job, JourneyEvent } from '../src/jobs/types';
import { storescu } from '../src/listener/storescu';
import { countOption, listOption, parseOptions } from '../scripts/args';
import { jobsByStudy, makeStudies, prepareNodes, studySettled } from '../test/integration/service/nodes';
import { api, disposeStack, startStack, waitFor } from '../test/integration/service/stack';

const IO_STAGES = ['selected', 'fetched', 'stored'];
const CPU_STAGES = ['detected', 'built'];

/** Busy and total jiffies of all cores so far (/proc/stat). */
function cpuTimes(): { busy: number; total: number } {
  const [, ...v] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = v.map(Number);
  const idle = n[3] + (n[4] ?? 0);
  const total = n.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['studies', 'workers', 'store', 'seed'], flags: ['ingest'] });
  const count = countOption(o.studies, 'studies', 12);
  const rounds = (o.workers ? listOption(o.workers) : ['1', '2', '3']).map((w) => countOption(w, 'workers'));
  const storeKind = o.store ?? 'postgres';
  if (storeKind !== 'postgres' && storeKind !== 'sqlite') throw new Error(`--store must be postgres or sqlite, got ${storeKind}`);
  const seed = countOption(o.seed, 'seed', 7);

  const stack = await startStack({ push: false, stableAge: 1, config: { jobs: { leaseSeconds: 60, concurrency: 1 } } });
  const postgres = storeKind === 'postgres' ? await PostgresProcess.start() : undefined;
  const rows: string[] = [];
  let base: number | undefined;
  try {
    console.log(`${os.cpus().length} CPU cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${count} studies per round; store ${storeKind}; concurrency 1 per process`);
    // Every round gets studies of its own (new UIDs), all written before any timing starts.
    const sets = [];
    for (let r = 0; r < rounds.length; r++) sets.push(await makeStudies(path.join(stack.dir, `round-${r}`), count, seed * 100000 + r * 1000));
    for (let r = 0; r < rounds.length; r++) {
      const workers = rounds[r]!;
      const studies = sets[r];
      const database = postgres ? await postgres.createDatabase(`lens_bench_${r}`) : path.join(stack.dir, `round-${r}.sqlite`);
      const nodes = await prepareNodes(stack, workers, { database, prefix: `round${r}-node` });
      const send = () => storescu(studies.map((s) => s.dir), { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
      if (!o.ingest) {
        await send();
        // Orthanc's StableStudy events for them pass before any node reads the feed (it starts from now).
        await new Promise((r) => setTimeout(r, 3000));
      }
      try {
        for (const n of nodes) await n.service.start();
        // Leadership settles before the burst, so that the change feed is followed from its start.
        await waitFor(async () => (await api<{ leaders: unknown[] }>(nodes[0].stack, '/api/nodes')).leaders.length === 1, 60000, 'a leader');
        const cpu0 = cpuTimes();
        const t0 = Date.now();
        if (o.ingest) await send();
        else for (const st of studies) await api(nodes[0].stack, `/api/studies/${st.studyUID}/rerun`, { method: 'POST' });
        const byStudy = await waitFor(async () => {
          const by = await jobsByStudy(nodes[0]);
          return studies.every((s) => studySettled(by.get(s.studyUID))) && by;
        }, 3600000, 'every study');
        const wallMs = Date.now() - t0;
        const cpu1 = cpuTimes();
        const jobs = studies.map((s) => byStudy.get(s.studyUID)!.find((j) => j.state === 'succeeded')!);
        const waits: number[] = [];
        for (const j of jobs) {
          const { journey } = await api<{ job: Job; journey: JourneyEvent[] }>(nodes[0].stack, `/api/jobs/${j.id}`);
          const claimed = journey.find((e) => e.event === 'claimed');
          if (claimed) waits.push(claimed.at - j.receivedAt);
        }
        const stage = (names: string[]) => sum(jobs.map((j) => sum(names.map((n) => j.timingsMs?.[n] ?? 0))));
        const io = stage(IO_STAGES);
        const cpu = stage(CPU_STAGES);
        const perMin = (count / wallMs) * 60000;
        base ??= perMin;
        const busy = (100 * (cpu1.busy - cpu0.busy)) / (cpu1.total - cpu0.total);
        rows.push(
          `${String(workers).padStart(7)} ${(wallMs / 1000).toFixed(0).padStart(7)} ${perMin.toFixed(2).padStart(11)} ${(perMin / base).toFixed(2).padStart(6)}` +
            ` ${(mean(waits) / 1000).toFixed(1).padStart(13)} ${((io + cpu) / jobs.length / 1000).toFixed(1).padStart(11)}` +
            ` ${((100 * io) / (io + cpu)).toFixed(0).padStart(8)}% ${((100 * cpu) / (io + cpu)).toFixed(0).padStart(8)}% ${busy.toFixed(0).padStart(9)}%`,
        );
        console.log(`round ${r + 1}: ${workers} worker process(es): ${perMin.toFixed(2)} studies/min`);
      } finally {
        for (const n of nodes) await n.service.kill('SIGTERM');
      }
    }
    console.log(`\nworkers  wall s  studies/min  ratio  queue wait s  stages s/st  I/O share  CPU share  cores busy`);
    for (const r of rows) console.log(r);
    console.log(`\nratio: studies/min relative to one worker process. stages s/st: mean time in the analysis stages per study;`);
    console.log(`I/O share: selected + fetched + stored (PACS requests); CPU share: detected + built. cores busy: all ${os.cpus().length} cores, whole machine.`);
  } finally {
    await postgres?.dispose();
    await disposeStack(stack);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
