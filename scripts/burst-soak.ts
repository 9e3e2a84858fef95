/**
 * Burst soak (issue 14): a burst of small synthetic CT studies into a real Orthanc, analysed by several `lens serve`
 * processes sharing one job store (a real PostgreSQL by default, or one SQLite file), push off so that the change
 * feed, followed by the leader alone, finds every study. During the burst a worker (a node that does not lead) is
 * killed with SIGKILL while it runs a job, then the leader likewise; each is started again 5 s later, as a
 * supervisor would (--no-restart leaves them dead). At the end every study must have exactly one succeeded job,
 * every other job skipped as our own output, and in Orthanc exactly the SR and SEG that job names. It prints the
 * figures (throughput, takeover time, jobs taken over from killed workers) and exits 1 on any mismatch.
 *
 *   nice node -r tsx/cjs scripts/burst-soak.ts [--studies 200] [--nodes 3] [--store postgres|sqlite]
 *       [--concurrency 1] [--seed 1] [--timeout-min 120] [--no-restart]
 *
 * Not part of the test suite (minutes to hours); the short version is test/integration/service/multi-node.test.ts.
 */
import os from 'node:os';
import path from 'node:path';
import { PostgresProcess } from '../src/jobs/postgres-process';
import type { Job, JourneyEvent } from '../src/jobs/types';
import { storescu } from '../src/listener/storescu';
import { countOption, parseOptions } from './args';
import { jobsByStudy, leads, makeStudies, ownerOf, prepareNodes, studyProblems, studySettled, type ServiceNode } from '../test/integration/service/nodes';
import { api, disposeStack, startStack, waitFor } from '../test/integration/service/stack';

const LEADER_TTL_S = 5;
const ANALYSIS_STAGES = ['fetched', 'detected', 'built', 'stored'];
/** Studies per storescu association while sending the burst. */
const BATCH = 10;

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), { values: ['studies', 'nodes', 'store', 'concurrency', 'seed', 'timeout-min'], flags: ['no-restart'] });
  const count = countOption(o.studies, 'studies', 200);
  const nodeCount = countOption(o.nodes, 'nodes', 3);
  const storeKind = o.store ?? 'postgres';
  if (storeKind !== 'postgres' && storeKind !== 'sqlite') throw new Error(`--store must be postgres or sqlite, got ${storeKind}`);
  if (nodeCount < 2) throw new Error('--nodes must be at least 2 (a worker and a leader are killed)');
  const concurrency = countOption(o.concurrency, 'concurrency', 1);
  const seed = countOption(o.seed, 'seed', 1);
  const timeoutMs = countOption(o['timeout-min'], 'timeout-min', 120) * 60000;

  const stack = await startStack({ push: false, stableAge: 1, config: { jobs: { leaseSeconds: 10, concurrency, backoffSeconds: 1, maxBackoffSeconds: 8 } } });
  let postgres: PostgresProcess | undefined;
  let nodes: ServiceNode[] = [];
  let closing = false;
  try {
    postgres = storeKind === 'postgres' ? await PostgresProcess.start() : undefined;
    const database = postgres ? await postgres.createDatabase('lens_burst') : undefined;
    nodes = await prepareNodes(stack, nodeCount, { database, config: { node: { leaderTtlSeconds: LEADER_TTL_S, statusSeconds: 2 } } });
    // One at a time: several model loads at once on a busy machine can outlast the start timeout.
    for (const n of nodes) await n.service.start();
    console.log(`${nodeCount} nodes (concurrency ${concurrency} each), store ${storeKind}, ${os.cpus().length} CPU cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const genStart = Date.now();
    const studies = await makeStudies(path.join(stack.dir, 'burst'), count, seed * 100000);
    console.log(`${count} synthetic studies written in ${((Date.now() - genStart) / 1000).toFixed(0)} s`);

    const t0 = Date.now();
    const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
    const sending = (async () => {
      for (let i = 0; i < studies.length; i += BATCH)
        await storescu(studies.slice(i, i + BATCH).map((s) => s.dir), { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
      console.log(`all ${count} sent at ${elapsed()}`);
    })();
    sending.catch(() => undefined);

    const kills: { what: string; node: string; job: number; at: string; takeoverMs?: number }[] = [];
    const restart = async (n: ServiceNode) => {
      if (o['no-restart']) return;
      await new Promise((r) => setTimeout(r, 5000));
      if (closing) return;
      await n.service.start();
      console.log(`${n.name} restarted at ${elapsed()}`);
    };
    const alive = new Set(nodes);
    /**
     * Kills a node that leads (or one that does not) while it analyses a study: past selection, so that the kill
     * interrupts real work (an own-output skip ends within the selection stage).
     */
    const killOne = async (leader: boolean, what: string) => {
      const target = await waitFor(async () => {
        const { jobs } = await api<{ jobs: Job[] }>([...alive][0].stack, '/api/jobs?state=running&limit=1000');
        for (const n of alive) {
          if ((await leads(n)) !== leader) continue;
          const job = jobs.find((j) => j.leaseOwner === ownerOf(n) && ANALYSIS_STAGES.includes(j.stage ?? ''));
          if (job) return { n, job };
        }
        return undefined;
      }, 600000, `a ${what} running a job`);
      await target.n.service.kill('SIGKILL');
      alive.delete(target.n);
      const kill: (typeof kills)[number] = { what, node: target.n.name, job: target.job.id, at: elapsed() };
      kills.push(kill);
      console.log(`SIGKILL ${what} ${target.n.name} (job ${target.job.id}) at ${kill.at}`);
      if (leader) {
        const killedAt = Date.now();
        await waitFor(async () => (await Promise.all([...alive].map((n) => leads(n)))).some(Boolean), 120000, 'a new leader');
        kill.takeoverMs = Date.now() - killedAt;
        console.log(`  leadership taken over after ${kill.takeoverMs} ms (TTL ${LEADER_TTL_S} s)`);
      }
      void restart(target.n).then(() => alive.add(target.n));
    };
    const doneCount = async () => {
      const by = await jobsByStudy([...alive][0]);
      return studies.filter((s) => studySettled(by.get(s.studyUID))).length;
    };
    await waitFor(async () => (await doneCount()) >= count / 4, timeoutMs, 'a quarter of the studies');
    await killOne(false, 'worker');
    await waitFor(async () => (await doneCount()) >= count / 2, timeoutMs, 'half of the studies');
    await killOne(true, 'leader');
    await sending;
    let lastReport = 0;
    const byStudy = await waitFor(async () => {
      const by = await jobsByStudy([...alive][0]);
      const done = studies.filter((s) => studySettled(by.get(s.studyUID))).length;
      if (Date.now() - lastReport > 30000) {
        lastReport = Date.now();
        console.log(`${done}/${count} done at ${elapsed()}`);
      }
      return done === count && by;
    }, timeoutMs, 'every study');
    const wallMs = Date.now() - t0;

    let bad = 0;
    for (const s of studies) {
      const problems = await studyProblems([...alive][0], s.studyUID, byStudy.get(s.studyUID)!);
      if (problems.length) {
        bad++;
        console.log(`MISMATCH ${s.studyUID}: ${problems.join('; ')}`);
      }
    }
    const jobs = studies.flatMap((s) => byStudy.get(s.studyUID)!);
    const analyses = jobs.filter((j) => j.state === 'succeeded');
    // A job whose worker was killed is claimed again once its lease expires (no death is counted against it).
    const reclaimed = analyses.filter((j) => j.attempts > 1).length;
    const segs = analyses.filter((j) => (j.lesionCount ?? 0) > 0).length;
    console.log(`\nburst: ${count} studies, ${nodeCount} nodes x concurrency ${concurrency}, store ${storeKind}`);
    console.log(`wall ${(wallMs / 1000).toFixed(0)} s (first send to last study settled): ${((count / wallMs) * 60000).toFixed(1)} studies/min`);
    for (const k of kills) {
      const { job, journey } = await api<{ job: Job; journey: JourneyEvent[] }>([...alive][0].stack, `/api/jobs/${k.job}`);
      const lapsed = journey.filter((e) => e.event === 'lease-expired').length;
      console.log(
        `kill: ${k.what} ${k.node} at ${k.at} while running job ${k.job}${k.takeoverMs !== undefined ? `; new leader after ${k.takeoverMs} ms` : ''}` +
          `; the job: ${job.state}, ${journey.filter((e) => e.event === 'claimed').length} claims, ${lapsed} lease expiries`,
      );
    }
    console.log(`jobs: ${analyses.length} analyses succeeded (${reclaimed} needed more than one claim), ${jobs.length - analyses.length} own-output skips`);
    console.log(`studies with lesions (SEG expected): ${segs}/${count}`);
    console.log(`${count - bad}/${count} studies: exactly one SR${segs === count ? ' and one SEG' : ' (and one SEG where lesions were found)'} in Orthanc, one succeeded job naming them`);
    return bad === 0 ? 0 : 1;
  } finally {
    closing = true;
    for (const n of nodes) await n.service.kill('SIGTERM');
    await postgres?.dispose();
    await disposeStack(stack);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
