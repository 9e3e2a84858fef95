/**
 * Test stack for the service: a real Orthanc (orthanc/lens.json: push script, short StableAge) and the service,
 * either in-process or as a child process (`node bin/lens.js serve -c cfg.json`), on free loopback ports.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema, type LensConfig } from '../../../src/config/schema';
import type { Job } from '../../../src/jobs/types';
import { lensOrthancOptions } from '../../../src/listener/orthanc-setup';
import { storescu } from '../../../src/listener/storescu';
import { freePort } from '../../../src/pacs/free-port';
import { OrthancProcess } from '../../../src/pacs/orthanc-process';
import { startService, type RunningService } from '../../../src/server/service';

export const REPO = path.resolve(__dirname, '../../..');
export const SHARED_CT = path.resolve(REPO, '../shared/data/ct');

export interface Stack {
  dir: string;
  orthanc: OrthancProcess;
  config: LensConfig;
  configFile: string;
  serviceUrl: string;
  secret: string;
}

export interface StackOptions {
  push?: boolean;
  stableAge?: number;
  config?: Record<string, any>;
  /** false: no `orthanc` section, a plain DICOMweb PACS */
  orthancRest?: boolean;
  /** Orthanc restarted after each crash, as under systemd Restart=always (OrthancOptions.superviseRestartMs). */
  superviseRestartMs?: number;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-svc-'));
  const port = await freePort();
  const serviceUrl = `http://127.0.0.1:${port}`;
  const secret = randomBytes(12).toString('hex');
  const orthanc = await OrthancProcess.start({
    dir: path.join(dir, 'orthanc'),
    ...lensOrthancOptions({ serviceUrl, secret, stableAge: opts.stableAge ?? 1, push: opts.push ?? true }),
    superviseRestartMs: opts.superviseRestartMs,
  });
  const c = opts.config ?? {};
  const raw = {
    workDir: path.join(dir, 'service'),
    pacs: { dicomwebUrl: orthanc.dicomwebUrl, retries: 1, retryBaseMs: 200, timeoutMs: 20000, ...c.pacs },
    ...(opts.orthancRest === false ? {} : { orthanc: { url: orthanc.url } }),
    listener: { webhook: { secret }, changeFeed: { intervalMs: 500 }, ...c.listener },
    model: { dir: path.join(REPO, 'models/lens-ulb'), ...c.model },
    jobs: { backoffSeconds: 1, maxBackoffSeconds: 8, leaseSeconds: 30, maxAttempts: 6, concurrency: 1, ...c.jobs },
    server: { port, ...c.server },
    ...(c.harvest ? { harvest: c.harvest } : {}),
  };
  const config = configSchema.parse(raw);
  const configFile = path.join(dir, 'lens.json');
  fs.writeFileSync(configFile, JSON.stringify(raw, null, 2));
  return { dir, orthanc, config, configFile, serviceUrl, secret };
}

export async function disposeStack(s: Stack | undefined): Promise<void> {
  if (!s) return;
  await s.orthanc.dispose();
  fs.rmSync(s.dir, { recursive: true, force: true });
}

/**
 * A suite's Orthanc and `lens serve` child process, started before its tests and stopped after them, also when a
 * test fails. The service runs as a child because onnxruntime-node rejects typed arrays made in jest's sandbox.
 */
export function useServiceStack(opts: StackOptions): { stack: Stack; service: ServiceChild } {
  const suite = {} as { stack: Stack; service: ServiceChild };
  beforeAll(async () => {
    suite.stack = await startStack(opts);
    suite.service = new ServiceChild(suite.stack);
    await suite.service.start();
  }, 120000);
  afterAll(async () => {
    await suite.service?.kill('SIGTERM');
    await disposeStack(suite.stack);
  }, 60000);
  return suite;
}

export function startInProcess(s: Stack): Promise<RunningService> {
  return startService(s.config);
}

/** The service as a child process; its stdout+stderr and --log-file are kept for inspection. */
export class ServiceChild {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  readonly logFile: string;
  readonly consoleFile: string;

  constructor(private readonly s: Stack) {
    this.logFile = path.join(s.dir, 'service.log');
    this.consoleFile = path.join(s.dir, 'service.console');
  }

  async start(): Promise<void> {
    const out = fs.openSync(this.consoleFile, 'a');
    const child = spawn(process.execPath, [path.join(REPO, 'bin/lens.js'), '-c', this.s.configFile, 'serve', '--log-file', this.logFile], {
      stdio: ['ignore', out, out],
      env: { ...process.env, LENS_LOG_LEVEL: 'info', NODE_ENV: 'production' },
    });
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`service exited: ${fs.readFileSync(this.consoleFile, 'utf8').slice(-2000)}`);
      try {
        return (await fetch(`${this.s.serviceUrl}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 60000, 'service start');
  }

  /** The service's process id while it runs (its analysis processes are its children). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    this.child?.kill(signal);
    await this.exited;
    this.child = undefined;
  }

  /** Everything the service wrote (console and log file). */
  output(): string {
    const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
    return read(this.consoleFile) + read(this.logFile);
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
      if ((e as Error).message?.startsWith('service exited')) throw e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export async function api<T = any>(s: Stack, p: string, init?: RequestInit): Promise<T> {
  const r = await fetch(`${s.serviceUrl}${p}`, init);
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${await r.text()}`);
  return (r.headers.get('content-type') ?? '').includes('json') ? ((await r.json()) as T) : ((await r.text()) as T);
}

export async function jobsOf(s: Stack, studyUID: string): Promise<Job[]> {
  return (await api<{ jobs: Job[] }>(s, `/api/jobs?study=${studyUID}&limit=50`)).jobs.sort((a, b) => a.id - b.id);
}

/** Whether Orthanc holds the study and has declared it stable (its StableStudy change is written then). */
export async function orthancStudyStable(s: Stack, studyUID: string): Promise<boolean> {
  const found = (await (await fetch(`${s.orthanc.url}/tools/lookup`, { method: 'POST', body: studyUID })).json()) as { ID: string; Type: string }[];
  const id = found.find((f) => f.Type === 'Study')?.ID;
  if (!id) return false;
  return ((await (await fetch(`${s.orthanc.url}/studies/${id}`)).json()) as { IsStable?: boolean }).IsStable === true;
}

/** Series of a study in Orthanc (QIDO-RS), by modality. */
export async function seriesByModality(s: Stack, studyUID: string): Promise<Record<string, { uid: string; instances: number }[]>> {
  const r = await fetch(`${s.orthanc.dicomwebUrl}/studies/${studyUID}/series?includefield=00201209`);
  const list = (await r.json()) as Record<string, { Value?: unknown[] }>[];
  const out: Record<string, { uid: string; instances: number }[]> = {};
  for (const x of list) {
    const m = String(x['00080060']?.Value?.[0] ?? '');
    (out[m] ??= []).push({ uid: String(x['0020000E']?.Value?.[0]), instances: Number(x['00201209']?.Value?.[0] ?? 0) });
  }
  return out;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, _o, stderr) => (err ? reject(new Error(`${cmd}: ${stderr || err.message}`)) : resolve())),
  );
}

/** A new study made from DICOM files: copied with a new study UID, patient name/ID (dcmtk dcmodify). */
export async function copyStudy(
  srcFiles: string[],
  dest: string,
  o: { studyUID: string; seriesUID: string; patientName: string; patientID: string; modify?: string[] },
): Promise<string[]> {
  fs.mkdirSync(dest, { recursive: true });
  const files = srcFiles.map((f, i) => {
    const d = path.join(dest, `${String(i).padStart(4, '0')}.dcm`);
    fs.copyFileSync(f, d);
    return d;
  });
  const args = [
    '-nb', '-gin',
    '-m', `(0020,000d)=${o.studyUID}`, '-m', `(0020,000e)=${o.seriesUID}`,
    '-m', `(0010,0010)=${o.patientName}`, '-m', `(0010,0020)=${o.patientID}`,
    ...(o.modify ?? []).flatMap((m) => ['-m', m]),
  ];
  for (let i = 0; i < files.length; i += 200) await run('dcmodify', [...args, ...files.slice(i, i + 200)]);
  return files;
}

/**
 * A fresh copy of the real chest CT lung-dx-a0001 (series 3) under new study/series UIDs and a phantom patient,
 * sent by C-STORE as a scanner would; returns its StudyInstanceUID.
 */
export async function sendLungCopy(s: Stack, name: string): Promise<string> {
  const src = path.join(SHARED_CT, 'lung-dx-a0001/series3_5mm_kernelB');
  const srcFiles = fs.readdirSync(src).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(src, f));
  const studyUID = newUid();
  const files = await copyStudy(srcFiles, path.join(s.dir, 'studies', name), {
    studyUID, seriesUID: newUid(), patientName: `PHANTOM^${name}`, patientID: `PH-${name}`,
  });
  await storescu([path.dirname(files[0])], { port: s.orthanc.dicomPort, calledAet: s.orthanc.aet });
  return studyUID;
}

export function newUid(): string {
  return `2.25.${BigInt('0x' + randomBytes(15).toString('hex')).toString(10)}`;
}

/** A small synthetic CT study (B's generator) written as DICOM into dir; returns its UID and patient. */
export async function synthStudy(seed: number, dir: string, o: { size?: number; slices?: number; /** YYYYMMDD */ studyDate?: string } = {}) {
  const { generateStudy } = await import('../../../src/synth/study');
  const { writeStudyDicom } = await import('../../../src/synth/write-dicom');
  const study = generateStudy(seed, { size: o.size ?? 160, slices: o.slices ?? 40 });
  if (o.studyDate) study.study.date = o.studyDate;
  const files = writeStudyDicom(study, dir);
  return { studyUID: study.volume.studyInstanceUID, patient: study.patient, files, dir };
}
