/**
 * Runs Debian's PostgreSQL as a child process in its own folder, on a free loopback port with its unix socket in
 * that folder, like OrthancProcess does for Orthanc: for the tests of the PostgreSQL job store and for benchmarks
 * and soak scripts of several `lens serve` processes. Never used by the service itself, which connects to the
 * database it is configured with (jobs.database).
 *
 * initdb and postgres refuse to run as root: as root, both run as the `postgres` user (the Debian package creates
 * it), or `nobody` when there is none, in a folder owned by that user.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../pacs/free-port';

export interface PostgresOptions {
  /** Folder for the data directory, socket and log; a new temporary folder when absent (removed by dispose). */
  dir?: string;
  port?: number;
  /**
   * Durability off (fsync, synchronous commit, full page writes): for tests and benchmarks of the job store's
   * logic, where a lost database is no loss. Default true.
   */
  fast?: boolean;
}

/** The bin folder of the newest PostgreSQL under /usr/lib/postgresql (Debian keeps it off PATH), or LENS_PG_BIN. */
export function postgresBinDir(): string {
  if (process.env.LENS_PG_BIN) return process.env.LENS_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error(`no PostgreSQL server found under ${root}: install Debian's postgresql package (scripts/setup.sh) or set LENS_PG_BIN`);
  return path.join(root, versions[0], 'bin');
}

/** Who runs the server: ourselves, or (as root) the `postgres` user or `nobody`. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

export class PostgresProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly user = serverUser();

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly password: string,
    private readonly fast: boolean,
    private readonly ownsDir: boolean,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }
  get logPath(): string {
    return path.join(this.dir, 'postgres.log');
  }
  /** postgres:// URL of `database` on this server (user lens, with its password). */
  url(database = 'postgres'): string {
    return `postgres://lens:${this.password}@127.0.0.1:${this.port}/${database}`;
  }

  static async start(opts: PostgresOptions = {}): Promise<PostgresProcess> {
    const ownsDir = !opts.dir;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pg-'));
    fs.mkdirSync(dir, { recursive: true });
    const port = opts.port ?? (await freePort());
    const p = new PostgresProcess(dir, port, crypto.randomBytes(12).toString('hex'), opts.fast ?? true, ownsDir);
    try {
      p.initdb();
      await p.launch();
    } catch (e) {
      await p.dispose();
      throw e;
    }
    return p;
  }

  private initdb(): void {
    if (this.user) fs.chownSync(this.dir, this.user.uid, this.user.gid);
    const pwfile = path.join(this.dir, 'pwfile');
    fs.writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    if (this.user) fs.chownSync(pwfile, this.user.uid, this.user.gid);
    const r = spawnSync(
      path.join(postgresBinDir(), 'initdb'),
      ['-D', this.dataDir, '-U', 'lens', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { cwd: this.dir, encoding: 'utf8', ...this.user },
    );
    fs.rmSync(pwfile, { force: true });
    if (r.status !== 0) throw new Error(`initdb failed (${r.status ?? r.signal}): ${r.error?.message ?? ''}${r.stderr}`);
  }

  /** Starts the server (again) on the same folder and port, and waits until it accepts connections. */
  async launch(timeoutMs = 30000): Promise<void> {
    const settings = [
      'listen_addresses=127.0.0.1', `unix_socket_directories=${this.dir}`, 'max_connections=200',
      ...(this.fast ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
    ];
    const logFd = fs.openSync(this.logPath, 'a');
    const child = spawn(path.join(postgresBinDir(), 'postgres'), ['-D', this.dataDir, '-p', String(this.port), ...settings.flatMap((s) => ['-c', s])], {
      cwd: this.dir, stdio: ['ignore', logFd, logFd], ...this.user,
    });
    fs.closeSync(logFd);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`PostgreSQL exited at start: ${this.logTail()}`);
      const c = new pg.Client({ connectionString: this.url() });
      try {
        await c.connect();
        await c.end();
        return;
      } catch (e) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms (${(e as Error).message}): ${this.logTail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private logTail(): string {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: use lower-case letters, digits and _`);
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      // FILE_COPY: a plain copy of the small template, quicker than logging it block by block (the default).
      await c.query(`CREATE DATABASE ${name} STRATEGY = FILE_COPY`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /**
   * Stops the server by a fast shutdown (SIGINT: open connections are cut, as when a database server goes away);
   * resolves once it has exited. (SIGKILL of the postmaster would leave its backends behind.)
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stops the server and removes its folder (when it made it). */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
