/**
 * Runs Debian's Orthanc (with the DICOMweb plugin) as a child process: its own folder, loopback ports,
 * configuration written from orthanc/orthanc.base.json. Used by `lens demo` and by every integration test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DCMTK_ENV } from './dcmtk-env';
import { freePort } from './free-port';

export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const BASE_CONFIG = path.resolve(__dirname, '../../orthanc/orthanc.base.json');

export interface OrthancOptions {
  /** Folder for storage, index, config and log; a new temporary folder when absent. */
  dir?: string;
  httpPort?: number;
  dicomPort?: number;
  aet?: string;
  /** Seconds without new instances before a study is stable. */
  stableAge?: number;
  /** Lua scripts (paths) to load. */
  luaScripts?: string[];
  /** Merged over the base configuration last. */
  extraConfig?: Record<string, unknown>;
  /**
   * Restart Orthanc whenever it exits without being asked to (a crash), on the same folder and ports, as systemd's
   * Restart=always with RestartSec would: the test double of a supervised production PACS. Value: ms before the
   * restart (systemd's default RestartSec is 100 ms).
   */
  superviseRestartMs?: number;
  /**
   * Start Orthanc on a folder (`configDir`) holding the configuration as orthanc.json, as Debian's service does
   * with /etc/orthanc: further .json files put there are read at the next launch(), and a key defined in two
   * files stops Orthanc, as there (test/integration/pacs/orthanc-setup.test.ts).
   */
  configFolder?: boolean;
}

export class OrthancProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private superviseRestartMs?: number;
  /** Set by stop(): an exit that was asked for is not restarted. */
  private stopping = false;
  /** Exits that nobody asked for (crashes), with their signal or exit code, when supervised. */
  readonly crashes: { at: number; signal: NodeJS.Signals | null; code: number | null }[] = [];
  /** Restarts done by the supervisor after a crash. */
  restarts = 0;

  private constructor(
    readonly dir: string,
    readonly httpPort: number,
    readonly dicomPort: number,
    readonly aet: string,
    private readonly configPath: string,
    private readonly ownsDir: boolean,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get dicomwebUrl(): string {
    return `${this.url}/dicom-web`;
  }
  /** The configuration folder Orthanc was started on (OrthancOptions.configFolder); undefined for a single file. */
  get configDir(): string | undefined {
    return path.extname(this.configPath) === '.json' ? undefined : this.configPath;
  }
  get logPath(): string {
    return path.join(this.dir, 'orthanc.log');
  }

  static async start(opts: OrthancOptions = {}): Promise<OrthancProcess> {
    const ownsDir = !opts.dir;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-orthanc-'));
    fs.mkdirSync(dir, { recursive: true });
    const httpPort = opts.httpPort ?? (await freePort());
    const dicomPort = opts.dicomPort ?? (await freePort());
    const aet = opts.aet ?? 'LENSPACS';
    const base = JSON.parse(fs.readFileSync(BASE_CONFIG, 'utf8')) as Record<string, unknown>;
    const config = {
      ...base,
      Name: `lens-${path.basename(dir)}`,
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'index'),
      HttpPort: httpPort,
      DicomPort: dicomPort,
      DicomAet: aet,
      StableAge: opts.stableAge ?? (base.StableAge as number),
      LuaScripts: opts.luaScripts ?? [],
      Plugins: [DICOMWEB_PLUGIN],
      ...opts.extraConfig,
    };
    const configPath = opts.configFolder ? path.join(dir, 'config') : path.join(dir, 'orthanc.json');
    if (opts.configFolder) fs.mkdirSync(configPath, { recursive: true });
    fs.writeFileSync(opts.configFolder ? path.join(configPath, 'orthanc.json') : configPath, JSON.stringify(config, null, 2));
    const o = new OrthancProcess(dir, httpPort, dicomPort, aet, configPath, ownsDir);
    o.superviseRestartMs = opts.superviseRestartMs;
    await o.launch();
    return o;
  }

  /** Starts the process (again) on the same folder and ports. */
  async launch(timeoutMs = 30000): Promise<void> {
    if (this.child) return;
    this.stopping = false;
    const logFd = fs.openSync(this.logPath, 'a');
    const child = spawn('Orthanc', [this.configPath], { stdio: ['ignore', logFd, logFd], env: DCMTK_ENV });
    fs.closeSync(logFd);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.superviseRestartMs !== undefined && !this.stopping) this.restartAfterCrash(code, signal);
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) throw new Error(`Orthanc exited during start-up; see ${this.logPath}:\n${this.tail()}`);
      try {
        const r = await fetch(`${this.url}/system`, { signal: AbortSignal.timeout(1000) });
        // 401: up, with AuthenticationEnabled.
        if (r.ok || r.status === 401) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`Orthanc did not answer within ${timeoutMs} ms; see ${this.logPath}:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The supervisor's answer to a crash: the same process started again after superviseRestartMs. */
  private restartAfterCrash(code: number | null, signal: NodeJS.Signals | null): void {
    this.crashes.push({ at: Date.now(), signal, code });
    setTimeout(() => {
      if (this.stopping || this.child) return;
      this.restarts++;
      // An exit during start-up is a crash like any other (recorded and restarted by the exit handler); one that
      // never answers is stopped by launch(), which ends the supervision.
      this.launch().catch((e) => {
        if (!this.stopping) fs.appendFileSync(this.logPath, `supervisor: restart failed: ${(e as Error).message}\n`);
      });
    }, this.superviseRestartMs);
  }

  /** Whether the process is running now (it may still be starting). */
  get running(): boolean {
    return !!this.child;
  }

  /** Stops the process and keeps its folder (a later launch() resumes with the same data). */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await this.exited;
    clearTimeout(killer);
  }

  /** Stops the process and removes the folder when it created it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private tail(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  }
}
