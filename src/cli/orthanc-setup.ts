/**
 * `lens orthanc-setup`: connects an existing Orthanc (Debian's package, the orthancteam image) to this service
 * without hand-editing: writes the push settings and the C-STORE senders from the lens configuration into Orthanc's
 * configuration (src/orthanc-config/setup-plan.ts decides where each key goes) and says what is left to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { isLoopbackHost } from '../config/service-requirements';
import { OrthancConfigError, parseOrthancJson } from '../orthanc-config/commented-json';
import { parseScanner, planOrthancSetup, type ConfigFile } from '../orthanc-config/setup-plan';
import { UserError } from './errors';

/** The push script as installed with this copy of lens-pacs. */
export const INSTALLED_PUSH_SCRIPT = path.resolve(__dirname, '../../plugin/lens-push.lua');
const BACKUP_SUFFIX = '.lens-backup';

export interface OrthancSetupOptions {
  out: string;
  orthancConfig?: string[];
  scanner?: string[];
  pushUrl?: string;
  secretEnv?: string;
  pluginDir?: string;
  pluginPath?: string;
  stableAge?: string;
  /** Print what would change; write nothing. */
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('orthanc-setup')
    .description("connect an existing Orthanc: writes the push (plugin/lens-push.lua, LensPush) and the allowed C-STORE senders into Orthanc's configuration")
    .requiredOption('--out <file>', 'the Orthanc configuration file to write, e.g. /etc/orthanc/lens.json (updated when it exists)')
    .option('--orthanc-config <path...>', "the files or folder Orthanc reads its configuration from (default: the folder of --out, e.g. /etc/orthanc); a key one of them defines is changed there, in place")
    .option('--scanner <spec>', 'a sender allowed to C-STORE: [NAME=]AET@HOST[:PORT] (repeat for each scanner)', (v: string, all: string[]) => [...all, v], [])
    .option('--push-url <url>', "the service's webhook as Orthanc reaches it (default: from server.host and server.port)")
    .option('--secret-env <VAR>', 'write the secret as ${VAR}, which Orthanc takes from its environment, instead of its value')
    .option('--plugin-dir <dir>', 'copy lens-push.lua into this folder and load it from there')
    .option('--plugin-path <path>', 'load lens-push.lua from this path as Orthanc sees it (e.g. a container mount; not checked here)')
    .option('--stable-age <s>', "set Orthanc's StableAge (seconds without new instances before a study is analysed)")
    .option('--dry-run', 'print what would change, with the new values (the secret masked); write nothing')
    .action((opts: OrthancSetupOptions, cmd: Command) => {
      const config = loadConfig({ file: cmd.optsWithGlobals().config });
      process.stdout.write(orthancSetup(config, opts, { configFile: cmd.optsWithGlobals().config }));
    });
}

/** Does the set-up and answers the report printed for the administrator. */
export function orthancSetup(config: LensConfig, o: OrthancSetupOptions, ctx: { configFile?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = ctx.env ?? process.env;
  const hook = config.listener.webhook;
  if (!hook.enabled) throw new UserError('listener.webhook.enabled is false: this service takes no push from Orthanc; enable it, or rely on the change feed without lens-push.lua');
  if (!hook.secret)
    throw new UserError('listener.webhook.secret is not set: the service refuses pushes without it; set it (e.g. `openssl rand -hex 16`) in the lens configuration and run orthanc-setup again');
  if (o.secretEnv !== undefined) {
    if (!/^[A-Za-z_]\w*$/.test(o.secretEnv)) throw new UserError(`--secret-env ${o.secretEnv}: not an environment variable name`);
    const v = env[o.secretEnv];
    if (v !== undefined && v !== hook.secret) throw new UserError(`--secret-env ${o.secretEnv}: that variable is set here to another value than listener.webhook.secret; the service would refuse Orthanc's pushes`);
  }
  const stableAge = o.stableAge === undefined ? undefined : Number(o.stableAge);
  if (stableAge !== undefined && !(Number.isInteger(stableAge) && stableAge > 0)) throw new UserError(`--stable-age ${o.stableAge}: a whole number of seconds above 0`);

  const out = path.resolve(o.out);
  if (fs.existsSync(out) && !fs.statSync(out).isFile()) throw new UserError(`--out ${o.out} is not a file`);
  if (!fs.existsSync(path.dirname(out))) throw new UserError(`--out ${o.out}: the folder ${path.dirname(out)} does not exist`);
  // Orthanc started on a folder reads every .json in it: the output's folder, unless told which files Orthanc reads.
  const sources = o.orthancConfig?.length ? o.orthancConfig : [path.dirname(out)];
  const others = sources.flatMap((p) => orthancConfigFiles(p)).filter((f) => f !== out);
  const pushUrl = webhookUrl(config, o.pushUrl);
  const pluginPath = installPushScript(o, !o.dryRun);
  const secret = o.secretEnv ? `\${${o.secretEnv}}` : hook.secret;

  let plan;
  try {
    plan = planOrthancSetup(
      { pushUrl, secret, pluginPath, scanners: (o.scanner ?? []).map(parseScanner), stableAge },
      readFile(out),
      others.map(readFile),
    );
  } catch (e) {
    if (e instanceof OrthancConfigError) throw new UserError(e.message);
    throw e;
  }

  const lines = [
    `Orthanc's configuration, as read from ${sources.join(', ')}: ${[...others, out].map((f) => path.basename(f)).join(', ')}`,
    `Orthanc ${o.dryRun ? 'would be set up' : 'set up'} to push to ${pushUrl} (lens-push.lua at ${pluginPath}):`,
  ];
  for (const w of plan.writes) {
    const what = w.keys.length ? w.keys.join(', ') : 'nothing to change';
    if (o.dryRun) {
      lines.push(`  would ${w.path === out ? (w.created ? 'write' : 'update') : 'change in place'} ${w.path}: ${what}`);
      const values = parseOrthancJson(w.text, w.path);
      for (const k of w.keys) lines.push(`    ${k}: ${JSON.stringify(k === 'LensPush' ? maskSecret(values[k]) : values[k])}`);
    } else if (w.path === out) {
      writeOutput(w.path, w.text, w.created, !o.secretEnv);
      lines.push(`  ${w.created ? 'wrote' : 'updated'} ${w.path}: ${what}`);
    } else {
      if (!fs.existsSync(w.path + BACKUP_SUFFIX)) fs.copyFileSync(w.path, w.path + BACKUP_SUFFIX);
      fs.writeFileSync(w.path, w.text);
      lines.push(`  changed in place ${w.path} (these keys are defined there; the file before: ${w.path}${BACKUP_SUFFIX}): ${what}`);
    }
  }
  if (!plan.writes.length) lines.push(`  nothing to change: ${out} and the files given already hold these settings`);
  const notes = [...plan.notes];
  if (!o.pushUrl && isLoopbackHost(new URL(pushUrl).hostname))
    notes.push(`the push goes to a loopback address (server.host ${config.server.host}): right when Orthanc runs on this machine; otherwise give --push-url with an address Orthanc reaches`);
  if (o.pluginPath) notes.push(`Orthanc must find lens-push.lua at ${o.pluginPath} (e.g. mounted into its container): not checked here`);
  if (!o.secretEnv) notes.push(`${out} holds the webhook secret: readable by its owner and group only; Orthanc's user must be able to read it`);
  else notes.push(`Orthanc takes LensPush.Secret from its environment variable ${o.secretEnv}: set it there to listener.webhook.secret`);
  if (notes.length) lines.push('notes:', ...notes.map((n) => `  - ${n}`));
  if (o.dryRun) return [...lines, 'dry run: nothing written; run again without --dry-run to write it'].join('\n') + '\n';
  lines.push(
    'still to do:',
    '  - restart Orthanc so that it reads the new configuration (Debian: sudo systemctl restart orthanc; compose: docker compose restart orthanc)',
    `  - check the push end to end: lens${ctx.configFile ? ` -c ${ctx.configFile}` : ''} doctor --orthanc-config ${out}`,
  );
  return lines.join('\n') + '\n';
}

/** The .json files Orthanc reads from a path: the file itself, or every .json in a folder (not recursive, as Orthanc). */
function orthancConfigFiles(p: string): string[] {
  const abs = path.resolve(p);
  let st;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new UserError(`--orthanc-config ${p}: no such file or folder`);
  }
  if (!st.isDirectory()) return [abs];
  return fs.readdirSync(abs).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(abs, f));
}

function readFile(p: string): ConfigFile {
  try {
    return { path: p, text: fs.readFileSync(p, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path: p };
    throw new UserError(`cannot read ${p}: ${(e as Error).message}`);
  }
}

/** The service's webhook URL: --push-url (a bare origin gets the webhook path), else server.host and server.port. */
export function webhookUrl(config: LensConfig, pushUrl?: string): string {
  if (pushUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(pushUrl);
    } catch {
      throw new UserError(`--push-url ${pushUrl}: not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`--push-url ${pushUrl}: http or https expected`);
    if (u.pathname === '/') u.pathname = '/webhook/orthanc';
    return u.toString();
  }
  const { host, port } = config.server;
  // A wildcard address is not one to connect to: Orthanc on this machine reaches the service on loopback.
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  if (port === 0) throw new UserError('server.port is 0 (a random port): give --push-url, or a fixed server.port');
  const hostPart = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `http://${hostPart}:${port}/webhook/orthanc`;
}

/** LensPush as printed: a literal secret masked, a ${VAR} reference shown. */
function maskSecret(push: unknown): unknown {
  const p = push as Record<string, unknown>;
  return typeof p.Secret === 'string' && !/^\$\{\w+\}$/.test(p.Secret) ? { ...p, Secret: '***' } : p;
}

/** Where Orthanc loads lens-push.lua from; copied into --plugin-dir when asked (and `copy`). */
function installPushScript(o: OrthancSetupOptions, copy: boolean): string {
  if (o.pluginDir !== undefined && o.pluginPath !== undefined) throw new UserError('give --plugin-dir or --plugin-path, not both');
  if (o.pluginPath !== undefined) {
    if (!path.isAbsolute(o.pluginPath)) throw new UserError(`--plugin-path ${o.pluginPath}: an absolute path is needed (Orthanc resolves relative ones against its own working directory)`);
    return o.pluginPath;
  }
  if (!fs.existsSync(INSTALLED_PUSH_SCRIPT)) throw new UserError(`the push script ${INSTALLED_PUSH_SCRIPT} is missing from this installation of lens-pacs`);
  if (o.pluginDir === undefined) return INSTALLED_PUSH_SCRIPT;
  const dir = path.resolve(o.pluginDir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`--plugin-dir ${o.pluginDir}: no such folder`);
  const target = path.join(dir, path.basename(INSTALLED_PUSH_SCRIPT));
  if (copy) {
    fs.copyFileSync(INSTALLED_PUSH_SCRIPT, target);
    fs.chmodSync(target, 0o644);
  }
  return target;
}

/**
 * A new output file that holds the secret is readable by owner and group only. Run as root next to Debian's
 * credentials.json (root:orthanc 0640, the package's file for secrets), it takes that file's group so that
 * Orthanc can read it.
 */
function writeOutput(file: string, text: string, created: boolean, holdsSecret: boolean): void {
  if (!created) return fs.writeFileSync(file, text);
  fs.writeFileSync(file, text, { mode: holdsSecret ? 0o640 : 0o644 });
  const credentials = path.join(path.dirname(file), 'credentials.json');
  if (holdsSecret && process.getuid?.() === 0 && fs.existsSync(credentials)) fs.chownSync(file, 0, fs.statSync(credentials).gid);
}
