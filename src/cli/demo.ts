/**
 * `lens demo`: the whole product on one machine. Starts Debian's Orthanc (orthanc/lens.json: short StableAge,
 * the push script), starts the service, sends a CT by C-STORE like a scanner, waits for the findings and prints
 * where to look. Keeps running until Ctrl-C unless --exit.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { configSchema } from '../config/schema';
import { scanDicomFolder } from '../dicom/load-folder';
import { FINAL_STATES, type JobStore, type StudyAnalysisJob } from '../jobs/types';
import { lensOrthancOptions } from '../listener/orthanc-setup';
import { storescu } from '../listener/storescu';
import { freePort } from '../pacs/free-port';
import { OrthancProcess } from '../pacs/orthanc-process';
import { startService } from '../server/service';
import { UserError } from './errors';

const REPO = path.resolve(__dirname, '../..');
export const DEFAULT_DEMO_STUDY = path.resolve(REPO, '../shared/data/ct/lung-dx-a0001/series3_5mm_kernelB');

interface DemoOptions {
  study?: string;
  port: string;
  stableAge: string;
  exit?: boolean;
  timeout: string;
  workDir?: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('start a local Orthanc and the service, send a CT by C-STORE, and show the findings written back')
    .option('--study <dir>', `DICOM folder to send (default: ${path.relative(process.cwd(), DEFAULT_DEMO_STUDY)}, else a synthetic study)`)
    .option('--port <port>', 'service port (0 = any free port)', '8700')
    .option('--stable-age <s>', "Orthanc's StableAge in seconds", '3')
    .option('--timeout <s>', 'seconds to wait for the findings', '600')
    .option('--work-dir <dir>', 'folder for the job database and Orthanc (default: a new temporary folder)')
    .option('--exit', 'stop after the result instead of running until Ctrl-C')
    .action(async (opts: DemoOptions, cmd: Command) => demo(opts, cmd.optsWithGlobals().config));
}

async function demo(opts: DemoOptions, configFile?: string): Promise<void> {
  // The user's configuration (model, selection, jobs) applies; PACS, listener and server are the demo's own.
  const base = loadConfig({ file: configFile });
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const workDir = path.resolve(opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-demo-')));
  fs.mkdirSync(workDir, { recursive: true });
  const studyDir = await resolveStudy(opts.study, workDir, say);
  const scan = await scanDicomFolder(studyDir);
  const studyUIDs = [...new Set(scan.series.map((s) => s.studyInstanceUID))];
  if (studyUIDs.length === 0) throw new UserError(`${studyDir}: no DICOM instances found`);

  let port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port: not a port: ${opts.port}`);
  if (port === 0) port = await freePort();
  const serviceUrl = `http://127.0.0.1:${port}`;
  const secret = randomBytes(18).toString('base64url');
  say(`starting Orthanc (StableAge ${opts.stableAge} s, push script plugin/lens-push.lua) in ${workDir}/orthanc`);
  const orthanc = await OrthancProcess.start({
    dir: path.join(workDir, 'orthanc'),
    ...lensOrthancOptions({ serviceUrl, secret, stableAge: Number(opts.stableAge) }),
  });
  let service: Awaited<ReturnType<typeof startService>> | undefined;
  const cleanup = async () => {
    await service?.stop(5000);
    await orthanc.stop();
  };
  try {
    const config = configSchema.parse({
      ...base,
      workDir: path.join(workDir, 'service'),
      pacs: { ...base.pacs, dicomwebUrl: orthanc.dicomwebUrl, auth: { type: 'none' } },
      orthanc: { url: orthanc.url },
      listener: { ...base.listener, webhook: { enabled: true, secret }, changeFeed: { ...base.listener.changeFeed, enabled: true, intervalMs: 2000 } },
      jobs: { ...base.jobs, database: undefined },
      server: { host: '127.0.0.1', port },
    });
    service = await startService(config);
    say(`service: ${service.url}  (Orthanc: ${orthanc.url}, DICOM ${orthanc.aet}@127.0.0.1:${orthanc.dicomPort})`);
    say(`sending ${studyDir} by C-STORE (storescu) ...`);
    const sentAt = Date.now();
    await storescu([studyDir], { port: orthanc.dicomPort, calledAet: orthanc.aet });
    say(`sent; waiting for the study to become stable and be analysed ...`);
    const job = await waitForResult(service.store, studyUIDs[0], Number(opts.timeout) * 1000);
    say('');
    report(job, (await service.store.journey(job.id)).length, service.url, orthanc, (Date.now() - sentAt) / 1000, say);
    if (opts.exit) {
      await cleanup();
      if (job.state !== 'succeeded') process.exitCode = 1;
      return;
    }
    say('\nrunning; press Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await cleanup();
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function resolveStudy(study: string | undefined, workDir: string, say: (s: string) => void): Promise<string> {
  if (study) {
    if (!fs.existsSync(study)) throw new UserError(`--study ${study}: no such folder`);
    return path.resolve(study);
  }
  if (fs.existsSync(DEFAULT_DEMO_STUDY)) return DEFAULT_DEMO_STUDY;
  say(`${DEFAULT_DEMO_STUDY} not found: generating a synthetic study`);
  const out = path.join(workDir, 'synthetic');
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [path.join(REPO, 'bin/lens.js'), 'synth', '--out', out, '--seed', '7', '--studies', '1', '--format', 'dicom'], (err, _o, stderr) =>
      err ? reject(new UserError(`lens synth failed: ${stderr.trim().split('\n').pop()}`)) : resolve(),
    ),
  );
  const name = fs.readdirSync(out).find((d) => fs.existsSync(path.join(out, d, 'dicom')));
  if (!name) throw new UserError(`lens synth wrote no study into ${out}`);
  return path.join(out, name, 'dicom');
}

async function waitForResult(store: Pick<JobStore, 'list'>, studyUID: string, timeoutMs: number): Promise<StudyAnalysisJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The first analysis of the study; later jobs are the re-announcements caused by our own SR/SEG.
    const jobs = (await store.list({ kind: 'study-analysis', studyInstanceUID: studyUID }))
      .filter((j): j is StudyAnalysisJob => j.kind === 'study-analysis')
      .sort((a, b) => a.id - b.id);
    const done = jobs.find((j) => j.state === 'succeeded') ?? jobs.find((j) => (FINAL_STATES as string[]).includes(j.state) && j.state !== 'skipped');
    if (done) return done;
    if (Date.now() > deadline) throw new UserError(`no result for study ${studyUID} within ${timeoutMs / 1000} s (states: ${jobs.map((j) => j.state).join(', ') || 'no job'})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function report(job: StudyAnalysisJob, events: number, url: string, orthanc: OrthancProcess, seconds: number, say: (s: string) => void): void {
  say(`study ${job.studyInstanceUID}: job #${job.id} ${job.state} after ${seconds.toFixed(1)} s (${events} journey events)`);
  if (job.state !== 'succeeded') {
    say(`reason: ${job.reason}: ${job.lastError}`);
    return;
  }
  const o = job.outputs ?? {};
  say(`SR   ${o.srSopInstanceUID} (series ${o.srSeriesUID})`);
  if (o.segSopInstanceUID) say(`SEG  ${o.segSopInstanceUID} (series ${o.segSeriesUID})`);
  say(`lesions found: ${job.lesionCount ?? 0}`);
  const lesions = job.lesions ?? [];
  if (lesions.length > 20) say(`  (the 20 with the highest scores of ${lesions.length})`);
  for (const l of lesions.slice(0, 20))
    say(`  #${l.id} ${l.type.padEnd(13)} score ${l.score.toFixed(2)}  ${l.longAxisMm.toFixed(1)} x ${l.shortAxisMm.toFixed(1)} mm  key slice ${l.keySlice.sopInstanceUID}`);
  const t = job.timingsMs ?? {};
  say(`stages (ms): ${['selected', 'fetched', 'detected', 'built', 'stored'].map((k) => `${k} ${t[k] ?? '-'}`).join(', ')}`);
  say('');
  say(`dashboard:  ${url}/dashboard/jobs/${job.id}`);
  say(`API:        ${url}/api/jobs/${job.id}`);
  say(`metrics:    ${url}/metrics`);
  say(`Orthanc:    ${orthanc.url}/app/explorer.html  (DICOMweb ${orthanc.dicomwebUrl})`);
}
