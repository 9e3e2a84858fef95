/**
 * Does a night's harvest slow down the day's work? (issue 13: "a study arriving during a harvest reaches its stored
 * SR as fast as without a harvest"). The service in-process with a real Orthanc that pushes StableStudy events
 * (the live PACS); live synthetic studies are sent one after another by C-STORE, first with no harvest, then while
 * a harvest runs. The harvest is the service's own runner (src/harvest/nightly.ts harvestRunner, the forked
 * harvest process, pausing while study analyses wait) over DICOMweb against a second Orthanc holding a synthetic
 * archive with readers' SRs, so its detection and its PACS reads load the same machine.
 *
 *   nice node -r tsx/cjs bench/harvest-latency.ts [--live 3] [--archive 24] [--stable-age 2] [--seed 31]
 *
 * Printed per round: each live study's StableStudy event -> SR stored and C-STORE end -> SR stored, and their mean;
 * for the harvest round also how long the harvest process was paused and how many studies it harvested meanwhile.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../src/config/schema';
import { harvestRunner, liveStudyWork } from '../src/harvest/nightly';
import { writeSyntheticArchive } from '../src/harvest/synthetic-archive';
import type { Job } from '../src/jobs/types';
import { WorkerPool } from '../src/jobs/worker';
import { lensOrthancOptions } from '../src/listener/orthanc-setup';
import { storescu } from '../src/listener/storescu';
import { freePort } from '../src/pacs/free-port';
import { OrthancProcess } from '../src/pacs/orthanc-process';
import { startService } from '../src/server/service';
import { generateStudy } from '../src/synth/study';
import { writeStudyDicom } from '../src/synth/write-dicom';
import { countOption, numberOption, parseOptions } from '../scripts/args';

interface Latency {
  eventToStoredMs: number;
  sentToStoredMs: number;
  /** The job's stage times (selected, fetched, detected, built, stored). */
  stages: Record<string, number>;
  receivedAt: number;
}

const STAGES = ['selected', 'fetched', 'detected', 'built', 'stored'];

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['live', 'archive', 'stable-age', 'seed'] });
  const live = countOption(o.live, 'live', 3);
  const archiveStudies = countOption(o.archive, 'archive', 24);
  const stableAge = numberOption(o['stable-age'], 'stable-age', 2);
  const seed = countOption(o.seed, 'seed', 31);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-harvest-latency-'));
  const port = await freePort();
  const secret = randomBytes(12).toString('hex');

  // Live studies: realistic enough to take the detector a few seconds; two sets, one per round.
  const liveStudies = Array.from({ length: 2 * live }, (_, i) => {
    const study = generateStudy(seed * 1000 + i, { size: 256, slices: 40, thickness: 5, lesions: [2, 4] });
    const d = path.join(dir, 'live', study.name);
    writeStudyDicom(study, d);
    return { dir: d, uid: study.truth.studyInstanceUID };
  });
  const archive = writeSyntheticArchive(path.join(dir, 'archive'), { seed: seed + 1, studies: archiveStudies, completeEvery: 10, synth: { size: 256, slices: 20, thickness: 5, lesions: [3, 4] } });

  const livePacs = await OrthancProcess.start({ dir: path.join(dir, 'orthanc-live'), ...lensOrthancOptions({ serviceUrl: `http://127.0.0.1:${port}`, secret, stableAge }) });
  const archivePacs = await OrthancProcess.start({ dir: path.join(dir, 'orthanc-archive'), ...lensOrthancOptions({ serviceUrl: 'http://127.0.0.1:9', secret, push: false }) });
  const config = configSchema.parse({
    workDir: path.join(dir, 'service'),
    pacs: { dicomwebUrl: livePacs.dicomwebUrl },
    orthanc: { url: livePacs.url },
    listener: { webhook: { secret } },
    server: { port },
  });
  const service = await startService(config);
  const stop = new AbortController();
  let pool: WorkerPool | undefined;
  try {
    for (const st of archive) await storescu(st.files, { port: archivePacs.dicomPort, calledAet: archivePacs.aet });
    console.log(`harvest-latency: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ` +
      `${live} live studies per round (256 x 256 x 40), archive ${archiveStudies} studies (256 x 256 x 20), StableAge ${stableAge} s`);

    const sendAndWait = async (study: { dir: string; uid: string }): Promise<Latency> => {
      await storescu([study.dir], { port: livePacs.dicomPort, calledAet: livePacs.aet });
      const sent = Date.now();
      for (;;) {
        // The study's analysis (the re-announcements caused by storing its SR and SEG are skipped jobs of their own).
        const job = (await service.store.list({ kind: 'study-analysis', limit: 1000 })).find((j) => j.studyInstanceUID === study.uid && ['succeeded', 'failed', 'dead'].includes(j.state)) as Job | undefined;
        if (job) {
          if (job.state !== 'succeeded') throw new Error(`live study job ${job.id} ${job.state}: ${job.lastError}`);
          const stored = (await service.store.journey(job.id)).find((e) => e.event === 'stored')!.at;
          return { eventToStoredMs: stored - job.receivedAt, sentToStoredMs: stored - sent, stages: job.timingsMs ?? {}, receivedAt: job.receivedAt };
        }
        if (Date.now() - sent > 600_000) throw new Error('no result within 10 min');
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const round = async (name: string, studies: { dir: string; uid: string }[]) => {
      const out: Latency[] = [];
      for (const st of studies) {
        const l = await sendAndWait(st);
        out.push(l);
        console.log(`  ${name}: event -> SR stored ${s(l.eventToStoredMs)}, C-STORE end -> SR stored ${s(l.sentToStoredMs)}; ${STAGES.map((k) => `${k} ${s(l.stages[k] ?? 0)}`).join(', ')}`);
      }
      return out;
    };

    // A warm-up study: the first analysis loads the model in the analysis process.
    const warm = generateStudy(seed * 1000 + 999, { size: 256, slices: 40, thickness: 5, lesions: [2, 2] });
    writeStudyDicom(warm, path.join(dir, 'live', 'warm'));
    await sendAndWait({ dir: path.join(dir, 'live', 'warm'), uid: warm.truth.studyInstanceUID });

    const without = await round('without harvest', liveStudies.slice(0, live));

    // The harvest: the service's runner, reading the archive PACS.
    const states: { state: string; at: number }[] = [];
    let studiesHarvested = 0;
    const harvestConfig = configSchema.parse({ ...config, pacs: { dicomwebUrl: archivePacs.dicomwebUrl }, harvest: { outDir: path.join(dir, 'harvest') } });
    pool = new WorkerPool({
      store: service.store, concurrency: 1, leaseMs: 60_000,
      runners: {
        'harvest-run': harvestRunner({
          config: harvestConfig, liveWork: () => liveStudyWork(service.store), signal: stop.signal,
          onState: (state) => states.push({ state, at: Date.now() }),
          metrics: { harvestStudy: (p) => void (p.outcome === 'harvested' && studiesHarvested++), harvestState: () => undefined, harvestRunFinished: () => undefined },
        }),
      },
    });
    const run = (await service.store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() + 3600_000 } })).job;
    pool.start();
    // Let the harvest get going (model loaded, first study under way) before the first live study arrives.
    const started = Date.now();
    while (studiesHarvested < 1 && Date.now() - started < 300_000) await new Promise((r) => setTimeout(r, 500));
    const harvestedBefore = studiesHarvested;
    const roundStart = Date.now();
    const during = await round('during harvest', liveStudies.slice(live));
    const roundEnd = Date.now();
    const finished = (await service.store.get(run.id))?.state !== 'running';
    let pausedMs = 0;
    let pausedAt: number | undefined;
    for (const e of states) {
      if (e.state === 'paused') pausedAt = Math.max(e.at, roundStart);
      else if (pausedAt !== undefined && (e.state === 'resumed' || e.state === 'killed')) {
        pausedMs += Math.min(e.at, roundEnd) - pausedAt;
        pausedAt = undefined;
      }
    }
    if (pausedAt !== undefined) pausedMs += roundEnd - pausedAt;

    // How long after each live study's event the harvest process was stopped.
    const pauseDelays = during.map((l) => states.find((e) => e.state === 'paused' && e.at >= l.receivedAt)?.at).map((at, i) => (at === undefined ? NaN : at - during[i].receivedAt));
    const a = mean(without.map((l) => l.eventToStoredMs));
    const b = mean(during.map((l) => l.eventToStoredMs));
    console.log(`without harvest: mean event -> SR stored ${s(a)} (C-STORE end -> SR ${s(mean(without.map((l) => l.sentToStoredMs)))})`);
    console.log(`during harvest:  mean event -> SR stored ${s(b)} (C-STORE end -> SR ${s(mean(during.map((l) => l.sentToStoredMs)))}); ratio ${(b / a).toFixed(2)}`);
    for (const k of STAGES) console.log(`  stage ${k.padEnd(9)} without ${s(mean(without.map((l) => l.stages[k] ?? 0)))}, during ${s(mean(during.map((l) => l.stages[k] ?? 0)))}`);
    console.log(`harvest stopped ${pauseDelays.map((d) => (Number.isNaN(d) ? '-' : s(d))).join(', ')} after each live event; ` +
      `paused ${s(pausedMs)} of ${s(roundEnd - roundStart)}, ${studiesHarvested - harvestedBefore} studies harvested; ` +
      `${finished ? 'WARNING: the harvest finished before the round ended (use a larger --archive)' : 'still running at the round end'}`);
  } finally {
    stop.abort();
    await pool?.stop();
    await service.stop(5000);
    await livePacs.dispose();
    await archivePacs.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`harvest-latency: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
