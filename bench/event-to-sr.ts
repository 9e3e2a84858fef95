/**
 * Time from Orthanc's StableStudy event to the stored, verified SR for the 134-slice pancreas-ct-cb-001 study,
 * with the stage breakdown from the job's journey. Real Orthanc (Debian package) with the push script, the
 * service in-process, the study sent by C-STORE.
 *
 *   npx tsx bench/event-to-sr.ts [--study DIR] [--stable-age S]
 * Target: under 60 s beyond StableAge on 2 CPU cores.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../src/config/schema';
import { lensOrthancOptions } from '../src/listener/orthanc-setup';
import { storescu } from '../src/listener/storescu';
import { freePort } from '../src/pacs/free-port';
import { OrthancProcess } from '../src/pacs/orthanc-process';
import { startService } from '../src/server/service';
import { numberOption, parseOptions } from '../scripts/args';

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['study', 'stable-age'] });
  const studyDir = path.resolve(o.study ?? path.resolve(__dirname, '../../shared/data/ct/pancreas-ct-cb-001/CT'));
  const stableAge = numberOption(o['stable-age'], 'stable-age', 2);
  if (!fs.existsSync(studyDir)) throw new Error(`${studyDir}: not found`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-bench-'));
  const port = await freePort();
  const secret = randomBytes(12).toString('hex');
  const orthanc = await OrthancProcess.start({ dir: path.join(dir, 'orthanc'), ...lensOrthancOptions({ serviceUrl: `http://127.0.0.1:${port}`, secret, stableAge }) });
  const service = await startService(
    configSchema.parse({
      workDir: path.join(dir, 'service'),
      pacs: { dicomwebUrl: orthanc.dicomwebUrl },
      orthanc: { url: orthanc.url },
      listener: { webhook: { secret } },
      server: { port },
    }),
  );
  try {
    const t0 = Date.now();
    await storescu([studyDir], { port: orthanc.dicomPort, calledAet: orthanc.aet });
    const sent = Date.now();
    let job;
    for (;;) {
      job = (await service.store.list({ limit: 5 })).find((j) => j.state === 'succeeded' || j.state === 'failed' || j.state === 'dead');
      if (job) break;
      if (Date.now() - sent > 600000) throw new Error('no result within 10 min');
      await new Promise((r) => setTimeout(r, 200));
    }
    if (job.state !== 'succeeded') throw new Error(`job ${job.id} ${job.state}: ${job.lastError}`);
    const journey = await service.store.journey(job.id);
    const storedAt = journey.find((e) => e.event === 'stored')!.at;
    const t = job.timingsMs ?? {};
    const line = (k: string, v: number) => console.log(`  ${k.padEnd(34)} ${(v / 1000).toFixed(2).padStart(7)} s`);
    console.log(`event-to-sr: ${studyDir} (${fs.readdirSync(studyDir).length} files), ${os.cpus().length} CPU cores, StableAge ${stableAge} s`);
    line('C-STORE (storescu)', sent - t0);
    line('last instance -> StableStudy event', job.receivedAt - sent);
    line('StableStudy event -> SR stored', storedAt - job.receivedAt);
    for (const k of ['selected', 'fetched', 'detected', 'built', 'stored']) line(`  stage ${k}`, t[k] ?? 0);
    console.log(`  lesions: ${job.lesionCount}; model ${job.modelVersion}; target: event -> SR < 60 s`);
  } finally {
    await service.stop(5000);
    await orthanc.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`event-to-sr: ${(e as Error).message}`);
  process.exit(1);
});
