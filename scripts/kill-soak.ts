/**
 * Kill soak (issue 11, "kills never lose a study"): a real Orthanc and `lens serve` (child process), real CT
 * studies (lung-dx-a0001 series 3, pancreas-ct-cb-001, fresh UIDs each round), and SIGKILLs of the service at
 * random points while their jobs run; the service is started again at once after each, as a supervisor would.
 * At the end it prints the kills, the studies, the SR and SEG series each study holds in Orthanc, and each
 * study's jobs as the job store records them, and exits 1 unless every study has exactly one SR and one SEG and a
 * succeeded job whose outputs are those series.
 *
 *   node -r tsx/cjs scripts/kill-soak.ts [--kills 20] [--max-delay-ms 6000] [--seed 1] [--kills-per-job 4]
 *
 * Kills of the whole service are lost services, not deaths (docs/service.md): they count neither toward the poison
 * rule nor toward maxAttempts. Each job is killed up to --kills-per-job times (default 4: above the default
 * jobs.poisonAfterDeaths of 3), so the soak also shows that no study is quarantined or
 * dead-lettered by kills; with 20 kills and 4 per job, 6 studies (3 rounds of 2).
 * Not part of the test suite: it takes several minutes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Job, JourneyEvent } from '../src/jobs/types';
import { storescu } from '../src/listener/storescu';
import { Rng } from '../src/synth/rng';
import { countOption, parseOptions } from './args';
import { api, copyStudy, disposeStack, jobsOf, newUid, seriesByModality, ServiceChild, SHARED_CT, startStack, waitFor } from '../test/integration/service/stack';

const SOURCES = [
  { name: 'lung', dir: path.join(SHARED_CT, 'lung-dx-a0001/series3_5mm_kernelB') },
  { name: 'pancreas', dir: path.join(SHARED_CT, 'pancreas-ct-cb-001/CT') },
];



const FINAL = ['succeeded', 'skipped', 'failed', 'dead', 'quarantined'];

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), { values: ['kills', 'max-delay-ms', 'seed', 'kills-per-job'] });
  const totalKills = countOption(o.kills, 'kills', 20);
  const maxDelayMs = countOption(o['max-delay-ms'], 'max-delay-ms', 6000);
  const rng = Rng.unmixed(countOption(o.seed, 'seed', 1));
  const rand = () => rng.next();
  const stack = await startStack({ push: true, stableAge: 1, config: { jobs: { leaseSeconds: 5, backoffSeconds: 1, maxBackoffSeconds: 4 } } });
  const service = new ServiceChild(stack);
  const capPerJob = countOption(o['kills-per-job'], 'kills-per-job', 4);
  const studies: { uid: string; source: string }[] = [];
  const killsOf = new Map<number, number>();
  const kills: { job: number; source: string; stage: string; afterMs: number }[] = [];
  const t0 = Date.now();
  try {
    await service.start();
    let startedAt = Date.now();
    /** A round: fresh copies of every source study, written first and then sent together, so that their jobs run back to back. */
    const sendRound = async (n: number) => {
      const copies: { uid: string; source: string; dir: string }[] = [];
      for (const source of SOURCES) {
        const uid = newUid();
        const dir = path.join(stack.dir, 'studies', `${source.name}-${n}`);
        const files = fs.readdirSync(source.dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(source.dir, f));
        await copyStudy(files, dir, { studyUID: uid, seriesUID: newUid(), patientName: `SOAK^${source.name.toUpperCase()}${n}`, patientID: `SOAK-${n}` });
        copies.push({ uid, source: source.name, dir });
      }
      // Sent in the background: the first study's job starts while the others are still arriving, and the soak
      // watches it from its start (a sending failure ends the soak).
      for (const c of copies) {
        studies.push({ uid: c.uid, source: c.source });
        storescu([c.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet }).catch((e) => {
          console.error(`sending ${c.source} failed: ${(e as Error).message}`);
          process.exit(2);
        });
      }
    };
    /** The soak's study job that a worker of the current process is running, with its journey. */
    const runningNow = async (): Promise<{ job: Job; journey: JourneyEvent[] } | undefined> => {
      for (const s of studies) {
        for (const job of await jobsOf(stack, s.uid)) {
          if (job.state !== 'running') continue;
          const { journey } = await api<{ journey: JourneyEvent[] }>(stack, `/api/jobs/${job.id}`);
          const claimed = journey.filter((e) => e.event === 'claimed').at(-1);
          if (claimed && claimed.at >= startedAt) return { job, journey };
        }
      }
      return undefined;
    };
    /** Every study sent has a job, and all its jobs are finished (a study just sent has none yet). */
    const allFinal = async () => {
      for (const s of studies) {
        const jobs = await jobsOf(stack, s.uid);
        if (jobs.length === 0 || jobs.some((j) => !FINAL.includes(j.state))) return false;
      }
      return true;
    };

    let round = 0;
    while (kills.length < totalKills) {
      if (studies.length === 0 || (await allFinal())) {
        round++;
        await sendRound(round);
        console.log(`round ${round}: sent ${SOURCES.map((s) => s.name).join(' + ')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
      const target = await waitFor(async () => {
        const r = await runningNow();
        return r && (killsOf.get(r.job.id) ?? 0) < capPerJob ? r : (await allFinal()) ? { done: true as const } : undefined;
      }, 600000, 'a job to kill');
      if ('done' in target) continue;
      const delay = Math.round(rand() * maxDelayMs);
      await new Promise((r) => setTimeout(r, delay));
      // Only a kill that lands while a job runs in this process counts: the one found, or the one after it.
      const still = await runningNow();
      if (!still || (killsOf.get(still.job.id) ?? 0) >= capPerJob) continue;
      const stage = String(still.journey.filter((e) => e.event === 'stage-started').at(-1)?.details?.stage ?? 'claimed');
      await service.kill('SIGKILL');
      kills.push({ job: still.job.id, source: studies.find((s) => s.uid === still.job.studyInstanceUID)!.source, stage, afterMs: delay });
      killsOf.set(still.job.id, (killsOf.get(still.job.id) ?? 0) + 1);
      console.log(`kill ${kills.length}: job ${still.job.id} (${kills.at(-1)!.source}) in stage ${stage}, ${delay} ms after a job was found running`);
      await service.start();
      startedAt = Date.now();
    }
    // Our own SR/SEG make Orthanc announce a study again (an own-output skip, or joined to a job still active; none
    // when a job found its report already stored): settled once every job is finished and none came for 10 s.
    const jobCount = async () => (await Promise.all(studies.map((s) => jobsOf(stack, s.uid)))).flat().length;
    let last = { n: -1, since: Date.now() };
    await waitFor(async () => {
      if (!(await allFinal())) return false;
      const n = await jobCount();
      if (n !== last.n) last = { n, since: Date.now() };
      return Date.now() - last.since >= 10000;
    }, 900000, 'every job to finish');

    console.log(`\nkills: ${kills.length} (by stage: ${JSON.stringify(countBy(kills.map((k) => k.stage)))}), studies: ${studies.length}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    let bad = 0;
    for (const s of studies) {
      const series = await seriesByModality(stack, s.uid);
      const jobs = await jobsOf(stack, s.uid);
      const ok = jobs.filter((j) => j.state === 'succeeded');
      const sr = series.SR ?? [];
      const seg = series.SEG ?? [];
      const agrees =
        ok.length === 1 && sr.length === 1 && seg.length === 1 && sr[0].instances === 1 && seg[0].instances === 1 &&
        ok[0].outputs?.srSeriesUID === sr[0].uid && ok[0].outputs?.segSeriesUID === seg[0].uid;
      if (!agrees) bad++;
      console.log(
        `${s.source.padEnd(8)} ${s.uid}  SR ${sr.length} (${sr.map((x) => x.instances).join(',')} inst)  SEG ${seg.length} (${seg.map((x) => x.instances).join(',')} inst)  ` +
          `jobs: ${jobs.map((j) => `#${j.id} ${j.state}${j.reason && j.state !== 'succeeded' ? `/${j.reason}` : ''} attempts ${j.attempts} deaths ${JSON.stringify(j.deaths ?? {})}`).join('; ')}  ${agrees ? 'OK' : 'MISMATCH'}`,
      );
    }
    console.log(`\n${studies.length - bad}/${studies.length} studies: exactly one SR and one SEG, and a succeeded job that names them`);
    return bad === 0 ? 0 : 1;
  } finally {
    await service.kill('SIGTERM');
    await disposeStack(stack);
  }
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
