/**
 * Outage soak (issue 12, "Orthanc stopped for 10 minutes while jobs are queued: every job completes after it
 * returns, none is dead"): a real Orthanc and `lens serve` (child process) with the DEFAULT job settings (backoff,
 * maxAttempts, retry horizon, PACS probe), synthetic CT studies sent by C-STORE, Orthanc stopped while their jobs
 * are queued and started again after the outage. Prints the jobs during and after it, how long each took to
 * complete once Orthanc was back, and the service's warnings about the outage; exits 1 unless every study has
 * a succeeded job and no job is dead.
 *
 *   node -r tsx/cjs scripts/outage-soak.ts [--outage-minutes 10] [--studies 8]
 *
 * Not part of the test suite: it takes the outage plus a few minutes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configSchema } from '../src/config/schema';
import type { Job } from '../src/jobs/types';
import { storescu } from '../src/listener/storescu';
import { countOption, numberOption, parseOptions } from './args';
import { generateStudy } from '../src/synth/study';
import { writeStudyDicom } from '../src/synth/write-dicom';
import { api, disposeStack, jobsOf, ServiceChild, startStack, waitFor } from '../test/integration/service/stack';

const FINAL = ['succeeded', 'skipped', 'failed', 'dead', 'quarantined'];

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), { values: ['outage-minutes', 'studies'] });
  const outageMs = numberOption(o['outage-minutes'], 'outage-minutes', 10) * 60000;
  const count = countOption(o.studies, 'studies', 8);
  // The stack's test defaults (short backoff) are replaced by the product's defaults.
  const d = configSchema.parse({}).jobs;
  const jobs = { backoffSeconds: d.backoffSeconds, maxBackoffSeconds: d.maxBackoffSeconds, maxAttempts: d.maxAttempts, leaseSeconds: d.leaseSeconds, concurrency: d.concurrency };
  const stack = await startStack({ push: true, stableAge: 1, config: { jobs } });
  const service = new ServiceChild(stack);
  const t = (since: number) => `${((Date.now() - since) / 1000).toFixed(0)} s`;
  try {
    await service.start();
    console.log(`job settings: ${JSON.stringify({ ...jobs, retryHorizonMinutes: d.retryHorizonMinutes, pacsProbeSeconds: d.pacsProbeSeconds })}`);
    // Written here rather than with the test stack's synthStudy, whose dynamic import needs jest's loader.
    const studies = Array.from({ length: count }, (_, i) => {
      const study = generateStudy(9500 + i, { size: 128, slices: 32 });
      const dir = path.join(stack.dir, `soak-${i}`);
      writeStudyDicom(study, dir);
      return { studyUID: study.volume.studyInstanceUID, dir };
    });
    await storescu(studies.map((s) => s.dir), { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
    await waitFor(async () => (await Promise.all(studies.map(async (s) => (await jobsOf(stack, s.studyUID)).length > 0))).every(Boolean), 120000, 'every study to be queued');
    const states = async () => {
      const all = (await Promise.all(studies.map((s) => jobsOf(stack, s.studyUID)))).flat();
      return all.map((j) => `${j.id}:${j.state}/${j.attempts}`).join(' ');
    };
    console.log(`queued (job:state/attempts): ${await states()}`);
    await stack.orthanc.stop();
    const down = Date.now();
    console.log(`Orthanc stopped for ${outageMs / 60000} min`);
    while (Date.now() - down < outageMs) {
      await new Promise((r) => setTimeout(r, Math.min(60000, outageMs - (Date.now() - down))));
      console.log(`  after ${t(down)}: ${await states()}`);
    }
    await stack.orthanc.launch();
    const back = Date.now();
    console.log(`Orthanc started again after ${t(down)}`);
    const done = await waitFor(async () => {
      const all = await Promise.all(studies.map(async (s) => (await jobsOf(stack, s.studyUID)).find((j) => j.state === 'succeeded')));
      return all.every(Boolean) ? (all as Job[]) : undefined;
    }, 20 * 60000, 'every study to be analysed');
    console.log(`every study analysed ${t(back)} after Orthanc returned`);
    for (const j of done) console.log(`  job ${j.id}: ${j.state}, ${j.attempts} attempts, finished ${((j.finishedAt! - back) / 1000).toFixed(0)} s after the return`);
    await waitFor(async () => (await Promise.all(studies.map(async (s) => (await jobsOf(stack, s.studyUID)).every((j) => FINAL.includes(j.state))))).every(Boolean), 120000, 'every job to end');
    const dead = (await api<{ jobs: Job[] }>(stack, '/api/jobs?state=dead')).jobs;
    const log = fs.readFileSync(service.logFile, 'utf8');
    const lines = (m: string) => (log.match(new RegExp(`"message":"${m}`, 'g')) ?? []).length;
    console.log(`dead jobs: ${dead.length}`);
    console.log(`log lines: "change feed poll failed" ${lines('change feed poll failed"')}, "(still failing)" ${lines('change feed poll failed \\(still failing\\)')}, ` +
      `"recovered" ${lines('change feed poll failed: recovered')}, PACS probe warnings ${lines('the PACS does not answer')}, jobs resumed ${lines('the PACS answers again')}`);
    return dead.length === 0 && done.length === studies.length ? 0 : 1;
  } finally {
    await service.kill('SIGTERM');
    await disposeStack(stack);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
