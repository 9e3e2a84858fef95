/**
 * /healthz latency while the service analyses a large study (issue 12, "a responsive server"): a real Orthanc and
 * `lens serve` (child process, as deployed), a synthetic CT study (300 slices 512x512 by default) sent by
 * C-STORE, /healthz asked every 50 ms from the send to the stored SR, then again while the dashboard's key-slice
 * pictures of every lesion are rendered. Prints p50/p95/max per phase and the job's stage times, and the same
 * figures for a control: a bare Node HTTP server in a process of its own, asked the same way at the same time, so
 * that what the machine's load costs (a shared CI box) is told apart from what the service costs.
 * Target: max under 100 ms during the analysis (the Docker health check allows 5 s, Orthanc's push 5 s).
 *
 *   node -r tsx/cjs bench/healthz-latency.ts [--slices 300] [--size 512] [--seed 31337] [--interval-ms 50]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Job, JourneyEvent } from '../src/jobs/types';
import { storescu } from '../src/listener/storescu';
import { generateStudy } from '../src/synth/study';
import { writeStudyDicom } from '../src/synth/write-dicom';
import { countOption, parseOptions } from '../scripts/args';
import { api, disposeStack, jobsOf, ServiceChild, startStack, waitFor, type Stack } from '../test/integration/service/stack';

interface Sample {
  at: number;
  ms: number;
  ok: boolean;
}

/** Asks /healthz every `everyMs` (never two at once: a slow answer delays the next ask) until stopped. */
function pollHealthz(url: string, everyMs: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const t = performance.now();
      let ok = false;
      try {
        ok = (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10000) })).ok;
      } catch {
        /* counted as not ok, with the time it took */
      }
      const ms = performance.now() - t;
      samples.push({ at, ms, ok });
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - ms)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

function summary(name: string, samples: Sample[]): void {
  if (!samples.length) return console.log(`  ${name.padEnd(28)} no samples`);
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  const failed = samples.filter((s) => !s.ok).length;
  console.log(
    `  ${name.padEnd(28)} n=${String(samples.length).padStart(5)}  p50 ${q(0.5).toFixed(1).padStart(6)} ms  p95 ${q(0.95).toFixed(1).padStart(6)} ms  max ${ms.at(-1)!.toFixed(1).padStart(7)} ms${failed ? `  (${failed} failed)` : ''}`,
  );
}

/** A bare HTTP server (one line of Node) on a free port, in its own process: the control. */
async function startControl(): Promise<{ url: string; child: ChildProcess }> {
  const code = `const s = require('http').createServer((q, r) => r.end('ok')).listen(0, '127.0.0.1', () => console.log(s.address().port))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(String(d).trim()));
    child.once('exit', (c) => reject(new Error(`control server exited (${c})`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), { values: ['slices', 'size', 'seed', 'interval-ms'] });
  const slices = countOption(o.slices, 'slices', 300);
  const size = countOption(o.size, 'size', 512);
  const seed = countOption(o.seed, 'seed', 31337);
  const everyMs = countOption(o['interval-ms'], 'interval-ms', 50);
  let stack: Stack | undefined;
  let service: ServiceChild | undefined;
  const control = await startControl();
  try {
    stack = await startStack({ push: true, stableAge: 1, config: { jobs: { leaseSeconds: 60 } } });
    service = new ServiceChild(stack);
    await service.start();
    const study = generateStudy(seed, { slices, size, thickness: 1 });
    const dir = path.join(stack.dir, 'study');
    writeStudyDicom(study, dir);
    const uid = study.volume.studyInstanceUID;

    const analysis = pollHealthz(stack.serviceUrl, everyMs);
    const controlPoll = pollHealthz(control.url, everyMs);
    const t0 = Date.now();
    await storescu([dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
    const s = stack;
    const job = await waitFor(async () => (await jobsOf(s, uid)).find((j) => ['succeeded', 'failed', 'dead', 'quarantined'].includes(j.state)), 1200000, 'the analysis');
    const during = await analysis.stop();
    const controlSamples = await controlPoll.stop();
    if (job.state !== 'succeeded') throw new Error(`job ${job.id} ${job.state}: ${job.lastError}`);
    const journey = (await api<{ journey: JourneyEvent[] }>(stack, `/api/jobs/${job.id}`)).journey;
    const claimedAt = journey.find((e) => e.event === 'claimed')!.at;
    const storedAt = journey.find((e) => e.event === 'stored')?.at ?? Date.now();

    // The dashboard's pictures: every lesion's key slice at once, as a browser opening the study's page would.
    const pictures = pollHealthz(stack.serviceUrl, everyMs);
    const tp = Date.now();
    const done: Job = (await api<{ job: Job }>(stack, `/api/jobs/${job.id}`)).job;
    const lesions = done.lesions ?? [];
    const codes = await Promise.all(lesions.map(async (l) => (await fetch(`${stack!.serviceUrl}/dashboard/jobs/${job.id}/lesions/${l.id}.png`)).status));
    const picturesMs = Date.now() - tp;
    const whileRendering = await pictures.stop();

    const cpu = os.cpus();
    console.log(`healthz-latency: ${slices} slices ${size}x${size} (seed ${seed}), ${cpu.length} CPU cores (${cpu[0]?.model ?? 'unknown'}), /healthz every ${everyMs} ms`);
    console.log(`  send -> SR stored ${((storedAt - t0) / 1000).toFixed(1)} s; analysis (claimed -> stored) ${((storedAt - claimedAt) / 1000).toFixed(1)} s; ${job.lesionCount} lesions`);
    for (const k of ['selected', 'fetched', 'detected', 'built', 'stored']) console.log(`    stage ${k.padEnd(9)} ${(((job.timingsMs ?? {})[k] ?? 0) / 1000).toFixed(1).padStart(6)} s`);
    summary('whole run (send -> final)', during);
    const analysed = during.filter((x) => x.at >= claimedAt && x.at <= storedAt);
    summary('during the analysis', analysed);
    summary('control, same time', controlSamples.filter((x) => x.at >= claimedAt && x.at <= storedAt));
    summary(`while ${lesions.length} pictures rendered`, whileRendering);
    console.log(`  pictures: ${codes.filter((c) => c === 200).length}/${lesions.length} rendered (HTTP 200) in ${(picturesMs / 1000).toFixed(1)} s`);
    const max = Math.max(...analysed.map((x) => x.ms), ...whileRendering.map((x) => x.ms));
    console.log(`  target: max < 100 ms during analysis and rendering: ${max < 100 ? 'met' : 'NOT met'} (${max.toFixed(1)} ms); load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return max < 100 ? 0 : 1;
  } finally {
    control.child.kill();
    await service?.kill('SIGTERM');
    await disposeStack(stack);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`healthz-latency: ${(e as Error).message}`);
    process.exit(1);
  },
);
