/**
 * `lens doctor`: whether the service can work as configured, checked end to end and reported line by line. Each
 * event source is tried as the service would use it (Orthanc's change feed read, the webhook probed through the
 * running service and, where Orthanc lets us, pushed by Orthanc itself, the poller's QIDO query run), the model is
 * loaded, and the write-back is tried with an empty STOW-RS transaction. Secrets are never printed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { Command } from 'commander';
import { ConfigError, loadConfig, redactConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { eventSources, isLoopbackHost, serviceConfigProblems } from '../config/service-requirements';
import { checkManifestAgainstGraph, readManifest } from '../detect/load-manifest';
import { harvestChecks } from '../harvest/doctor-checks';
import { currentModelDir } from '../models/registry';
import { createSession, graphOf } from '../detect/session';
import { orthancGet } from '../listener/orthanc-rest';
import { parseOrthancJson } from '../orthanc-config/commented-json';
import { pollWindow } from '../listener/poll-window';
import { authHeaders, DicomWebClient } from '../pacs/dicomweb';
import { safeEqual } from '../server/auth';

export interface Check {
  name: string;
  /** false: the service cannot work as configured (doctor exits 1). */
  ok: boolean;
  detail: string;
  /** What to do about it. */
  fix?: string;
  /** An ok check that still needs a look (warn), or one that could not be made (skip). */
  note?: 'warn' | 'skip';
}

export interface DoctorOptions {
  /** false: no check that talks to the PACS (model, tools and configuration only). */
  pacs?: boolean;
  /** The running service's base URL for the webhook probe (default: from server.host and server.port). */
  serviceUrl?: string;
  /** Orthanc configuration files to compare LensPush against (when Orthanc cannot be asked through REST). */
  orthancConfig?: string[];
  env?: NodeJS.ProcessEnv;
}

/** A quick answer matters more here than the service's patient retries. */
const PROBE_TIMEOUT_MS = 5000;

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check that the service can work as configured: configuration, every event source end to end, the model, the PACS (QIDO-RS and STOW-RS) and the DICOM tools')
    .option('--no-pacs', 'skip every check that talks to the PACS')
    .option('--service-url <url>', 'the running service, for the webhook probe (default: http://<server.host>:<server.port>)')
    .option('--orthanc-config <file...>', "Orthanc's JSON configuration file(s): compare their LensPush with listener.webhook.secret")
    .action(async (opts: { pacs: boolean; serviceUrl?: string; orthancConfig?: string[] }) => {
      const checks = await runChecks(program.opts().config, { pacs: opts.pacs, serviceUrl: opts.serviceUrl, orthancConfig: opts.orthancConfig });
      process.stdout.write(formatReport(checks));
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}

export function formatReport(checks: Check[]): string {
  const label = (c: Check) => (!c.ok ? 'FAIL' : c.note === 'warn' ? 'WARN' : c.note === 'skip' ? 'SKIP' : 'OK  ');
  const lines = checks.flatMap((c) => [`${label(c)} ${c.name}: ${c.detail}`, ...(c.fix && (!c.ok || c.note) ? [`     -> ${c.fix}`] : [])]);
  const failed = checks.filter((c) => !c.ok).length;
  const warned = checks.filter((c) => c.ok && c.note === 'warn').length;
  lines.push(
    failed
      ? `${failed} check${failed === 1 ? '' : 's'} failed: the service cannot work as configured`
      : `all checks passed${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

export async function runChecks(configFile: string | undefined, opts: DoctorOptions | boolean = {}): Promise<Check[]> {
  const o: DoctorOptions = typeof opts === 'boolean' ? { pacs: opts } : opts;
  const checkPacs = o.pacs ?? true;
  const checks: Check[] = [];
  let cfg: LensConfig;
  try {
    cfg = loadConfig({ file: configFile, env: o.env });
    checks.push({ name: 'config', ok: true, detail: `${configFile ?? (o.env ?? process.env).LENS_CONFIG ?? 'defaults + environment'} is valid: ${JSON.stringify(redactConfig(cfg))}` });
  } catch (e) {
    checks.push({ name: 'config', ok: false, detail: oneLine((e as Error).message), fix: e instanceof ConfigError ? 'correct the named keys in the config file or LENS__* variables' : undefined });
    return checks;
  }
  checks.push(...serviceChecks(cfg, checkPacs));
  checks.push(...(await modelChecks(cfg)));
  checks.push(...harvestChecks(cfg));
  if (checkPacs) {
    checks.push(await qidoCheck(cfg));
    checks.push(await writeBackCheck(cfg));
    checks.push(...(await eventSourceChecks(cfg, o)));
  }
  checks.push(toolCheck('dcmtk', 'dsrdump', ['--version'], 'apt-get install dcmtk'));
  checks.push(toolCheck('dicom3tools', 'dciodvfy', [], 'apt-get install dicom3tools'));
  return checks;
}

/** What `lens serve` refuses to start with (the event-source part only when the PACS is checked at all). */
function serviceChecks(cfg: LensConfig, checkPacs: boolean): Check[] {
  const sourcesOk = eventSources(cfg).some((s) => s.works);
  const problems = serviceConfigProblems(cfg).filter((p) => checkPacs || !p.startsWith('no event source'));
  const out: Check[] = problems.map((p) => ({ name: 'service', ok: false, detail: p }));
  if (!problems.length)
    out.push({
      name: 'service',
      ok: true,
      detail: `${isLoopbackHost(cfg.server.host) ? `listens on loopback (${cfg.server.host})` : `listens on ${cfg.server.host}`}, ${cfg.server.apiToken ? 'API and dashboard need the token' : 'API and dashboard open to local users'}${checkPacs && sourcesOk ? '' : '; event sources not checked'}`,
    });
  return out;
}

async function modelChecks(cfg: LensConfig): Promise<Check[]> {
  let found;
  try {
    // The promoted model of the registry (lens model promote) when there is one.
    found = readManifest(currentModelDir(cfg));
  } catch (e) {
    return [{ name: 'model', ok: false, detail: oneLine((e as Error).message), fix: `put model.json and its ONNX file into ${cfg.model.dir} (config model.dir), or lens model rollback` }];
  }
  const { manifest: m, onnxPath } = found;
  const out: Check[] = [{ name: 'model', ok: true, detail: `${m.name} ${m.version} (${onnxPath}); heads ${m.output.heads.map((h) => h.name).join(', ')}${m.output.mask ? ' + mask' : ''}` }];
  try {
    const opened = await createSession(onnxPath, cfg.model);
    const problems = checkManifestAgainstGraph(m, graphOf(opened.session));
    await opened.session.release();
    out.push(
      problems.length
        ? { name: 'manifest vs graph', ok: false, detail: problems.join('; '), fix: 'export the model and its manifest together (models/training/export.py)' }
        : { name: 'manifest vs graph', ok: true, detail: 'input, every head and the mask match the ONNX graph' },
    );
    const skipped = opened.skipped.map((s) => `${s.provider} unavailable: ${s.reason}`).join('; ');
    out.push({ name: 'execution provider', ok: true, detail: `${opened.provider}${skipped ? ` (${skipped})` : ''}, threads ${cfg.model.threads || 'auto'}, batch ${cfg.model.batchSize}` });
  } catch (e) {
    out.push({ name: 'execution provider', ok: false, detail: (e as Error).message, fix: "add 'cpu' to model.executionProviders; CUDA needs onnxruntime-node installed with --onnxruntime-node-install=cuda12" });
  }
  return out;
}

const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];
/** A multi-line message (a heading ending in ':' and indented items) as one report line. */
const oneLine = (m: string) => m.replace(/:\n\s*(- )?/g, ': ').replace(/\n\s*(- )?/g, '; ');
const quickClient = (cfg: LensConfig) => new DicomWebClient({ ...cfg.pacs, retries: 0, timeoutMs: Math.min(cfg.pacs.timeoutMs, PROBE_TIMEOUT_MS) });

async function qidoCheck(cfg: LensConfig): Promise<Check> {
  const url = cfg.pacs.dicomwebUrl;
  try {
    const studies = await quickClient(cfg).searchStudies({}, { limit: 1 });
    return { name: 'PACS (QIDO-RS)', ok: true, detail: `${url} answers a study search (${studies.length ? 'studies found' : 'no studies yet'})` };
  } catch (e) {
    return { name: 'PACS (QIDO-RS)', ok: false, detail: `${url}: ${firstLine(e)}`, fix: 'start the PACS or set pacs.dicomwebUrl (LENS__PACS__DICOMWEBURL) and pacs.auth' };
  }
}

/**
 * A STOW-RS transaction with no instance in it: the PACS authenticates and authorises it like a real store and
 * answers with an (empty) STOW-RS response, yet nothing is stored. It proves that the endpoint takes stores from
 * these credentials; not that there is room for the SR and SEG, nor rules on particular studies.
 */
async function writeBackCheck(cfg: LensConfig): Promise<Check> {
  const url = `${cfg.pacs.dicomwebUrl.replace(/\/$/, '')}/studies`;
  const boundary = `lens-doctor-${randomBytes(8).toString('hex')}`;
  const name = 'write-back (STOW-RS)';
  let r: Response;
  try {
    r = await fetch(url, {
      method: 'POST',
      headers: { ...authHeaders(cfg.pacs.auth), 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json' },
      body: `--${boundary}--\r\n`,
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
  } catch (e) {
    return { name, ok: false, detail: `${url} unreachable: ${firstLine(e)}`, fix: 'start the PACS or correct pacs.dicomwebUrl' };
  }
  const text = await r.text();
  let stowBody = false;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    stowBody = !!j && typeof j === 'object' && ('00081199' in j || '00081198' in j);
  } catch {
    /* not a STOW-RS answer */
  }
  if (r.ok && stowBody)
    return { name, ok: true, detail: `${url} accepts a STOW-RS transaction with these credentials (an empty one: nothing stored; room on the PACS is not checked)` };
  if (r.status === 401 || r.status === 403)
    return { name, ok: false, detail: `${url} refuses STOW-RS: HTTP ${r.status}`, fix: 'give pacs.auth a user that may store (SR and SEG are written back)' };
  return {
    name,
    ok: false,
    detail: `${url} does not answer STOW-RS (HTTP ${r.status}${r.ok ? ', not a STOW-RS response' : ''})`,
    fix: 'pacs.dicomwebUrl must be the DICOMweb root with STOW-RS enabled (Orthanc: DicomWeb plugin)',
  };
}

async function eventSourceChecks(cfg: LensConfig, o: DoctorOptions): Promise<Check[]> {
  const out: Check[] = [];
  const [feed, hook, poll] = eventSources(cfg);
  const anyWorks = [feed, hook, poll].some((s) => s.works);
  // An enabled source that lacks what it needs fails the doctor only when it is the only hope (serviceChecks says so).
  const lacking = (s: (typeof feed)): Check => ({ name: s.name, ok: true, note: 'warn', detail: `enabled but ${s.why}: it delivers nothing`, fix: `set what it needs, or turn it off (${s.key}: false)` });

  if (feed.works) out.push(await changeFeedCheck(cfg));
  else if (feed.enabled && anyWorks) out.push(lacking(feed));
  else if (!feed.enabled) out.push({ name: feed.name, ok: true, note: 'skip', detail: `off (${feed.key})` });

  if (hook.works) out.push(...(await webhookChecks(cfg, o)));
  else if (hook.enabled && anyWorks) out.push(lacking(hook));
  else if (!hook.enabled) out.push({ name: hook.name, ok: true, note: 'skip', detail: `off (${hook.key})` });

  if (poll.works) out.push(await pollCheck(cfg));
  else out.push({ name: poll.name, ok: true, note: 'skip', detail: `off (${poll.key})` });
  return out;
}

async function changeFeedCheck(cfg: LensConfig): Promise<Check> {
  const orthanc = cfg.orthanc!;
  try {
    const last = await orthancGet<{ Last?: number }>(orthanc, '/changes?last', PROBE_TIMEOUT_MS);
    return { name: 'change feed', ok: true, detail: `${orthanc.url}/changes readable with the configured credentials (last change ${last.Last ?? 'none'})` };
  } catch (e) {
    return { name: 'change feed', ok: false, detail: `${orthanc.url}/changes: ${firstLine(e)}`, fix: "set orthanc.url to Orthanc's REST root and orthanc.auth to a user that may read it" };
  }
}

/** The service's own address for a probe: a wildcard listener is reached on loopback. */
function defaultServiceUrl(cfg: LensConfig): string {
  const h = cfg.server.host;
  const host = h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '[::1]' : h.includes(':') ? `[${h}]` : h;
  return `http://${host}:${cfg.server.port}`;
}

async function webhookChecks(cfg: LensConfig, o: DoctorOptions): Promise<Check[]> {
  const secret = cfg.listener.webhook.secret!;
  const serviceUrl = (o.serviceUrl ?? defaultServiceUrl(cfg)).replace(/\/$/, '');
  const nonce = randomBytes(12).toString('base64url');
  const out: Check[] = [];

  // 1. The running service takes the configured secret.
  let serviceUp = false;
  try {
    const r = await fetch(`${serviceUrl}/webhook/orthanc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Lens-Secret': secret },
      body: JSON.stringify({ lensProbe: nonce }),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    serviceUp = true;
    const echoed = r.ok && ((await r.json().catch(() => ({}))) as { lensProbe?: string }).lensProbe === nonce;
    out.push(
      echoed
        ? { name: 'webhook (service)', ok: true, detail: `${serviceUrl}/webhook/orthanc accepts listener.webhook.secret` }
        : r.status === 401
          ? { name: 'webhook (service)', ok: false, detail: `${serviceUrl}/webhook/orthanc refuses listener.webhook.secret (HTTP 401)`, fix: 'the running service has another secret: restart it with this configuration' }
          : { name: 'webhook (service)', ok: false, detail: `${serviceUrl}/webhook/orthanc answered HTTP ${r.status} to the probe`, fix: 'is this lens-pacs, started with this configuration?' },
    );
  } catch (e) {
    out.push({
      name: 'webhook (service)', ok: true, note: 'skip',
      detail: `no service at ${serviceUrl} (${firstLine(e)}): the push cannot be followed end to end`,
      fix: 'start `lens serve` and run doctor again (or give --service-url)',
    });
  }

  // 2. Orthanc pushes to it with the right secret: Orthanc itself sends the probe, from its LensPush settings. With
  // no service running, doctor takes the probe in its place, on its address, as the service would.
  if (cfg.orthanc) {
    const standIn = serviceUp ? undefined : await listenInPlaceOfService(cfg, secret);
    try {
      out.push(await orthancPushCheck(cfg, nonce, serviceUp || !!standIn, standIn ? `doctor, listening on ${standIn.address} in the service's place,` : 'this service'));
    } finally {
      await standIn?.close();
    }
  }
  // 3. Orthanc's configuration files, when given: the same secret (compared, never shown).
  for (const file of o.orthancConfig ?? []) out.push(orthancConfigFileCheck(file, secret, o.env ?? process.env));
  return out;
}

/** Run inside Orthanc (POST /tools/execute-script): reads LensPush and sends the probe exactly as lens-push.lua would. */
function pushProbeScript(nonce: string): string {
  return `local cfg = GetOrthancConfiguration()
local push = cfg['LensPush']
local r = { configured = push ~= nil, loaded = type(OnStableStudy) == 'function' }
if push ~= nil then
  r.enabled = push['Enabled'] ~= false
  r.url = push['Url']
  r.hasSecret = push['Secret'] ~= nil and push['Secret'] ~= ''
  if r.url ~= nil then
    local headers = { ['Content-Type'] = 'application/json' }
    if r.hasSecret then headers['X-Lens-Secret'] = push['Secret'] end
    if SetHttpTimeout ~= nil then SetHttpTimeout(5) end
    local ok, answer = pcall(HttpPost, r.url, '{"lensProbe":"${nonce}"}', headers)
    r.reached = ok and answer ~= nil and string.find(tostring(answer), '${nonce}', 1, true) ~= nil
    if not ok then r.error = tostring(answer) end
  end
end
print(DumpJson(r, true))`;
}

interface PushProbe {
  configured: boolean;
  loaded: boolean;
  enabled?: boolean;
  url?: string;
  hasSecret?: boolean;
  reached?: boolean;
  error?: string;
}

/**
 * A stand-in for the stopped service on its own host and port: answers the webhook probe exactly as the service
 * does (app.ts: the secret compared in constant time, the nonce echoed), nothing else. Undefined when the address
 * cannot be taken (something else listens there).
 */
async function listenInPlaceOfService(cfg: LensConfig, secret: string): Promise<{ address: string; close(): Promise<void> } | undefined> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body = (body + c).slice(0, 8192)));
    req.on('end', () => {
      const given = req.headers['x-lens-secret'];
      if (req.method !== 'POST' || req.url !== '/webhook/orthanc' || typeof given !== 'string' || !safeEqual(given, secret)) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"wrong or missing secret"}');
        return;
      }
      let probe: unknown;
      try {
        probe = (JSON.parse(body) as { lensProbe?: unknown }).lensProbe;
      } catch {
        /* answered below */
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ lensProbe: typeof probe === 'string' ? probe : null }));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.server.port, cfg.server.host, () => resolve());
    });
  } catch {
    return undefined;
  }
  return {
    address: `${cfg.server.host}:${cfg.server.port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function orthancPushCheck(cfg: LensConfig, nonce: string, receiverUp: boolean, receiver: string): Promise<Check> {
  const orthanc = cfg.orthanc!;
  const name = 'webhook (Orthanc push)';
  let r: Response;
  try {
    r = await fetch(`${orthanc.url.replace(/\/$/, '')}/tools/execute-script`, {
      method: 'POST',
      headers: authHeaders(orthanc.auth),
      body: pushProbeScript(nonce),
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS * 2),
    });
  } catch (e) {
    return { name, ok: false, detail: `Orthanc unreachable at ${orthanc.url}: ${firstLine(e)}` };
  }
  if (r.status === 403)
    return {
      name, ok: true, note: 'warn',
      detail: 'Orthanc does not run scripts sent over REST (ExecuteLuaEnabled is false), so it cannot be asked to push a probe',
      fix: 'compare the LensPush settings with --orthanc-config <file>, or set "ExecuteLuaEnabled": true in Orthanc while running doctor',
    };
  if (!r.ok) return { name, ok: true, note: 'warn', detail: `Orthanc refused /tools/execute-script (HTTP ${r.status}): the push was not probed` };
  let p: PushProbe;
  try {
    p = JSON.parse(await r.text()) as PushProbe;
  } catch {
    return { name, ok: true, note: 'warn', detail: 'Orthanc ran the probe script but its answer is not JSON: the push was not probed' };
  }
  const setup = 'install plugin/lens-push.lua with a LensPush section (docs/pacs.md)';
  if (!p.configured) return { name, ok: false, detail: 'Orthanc has no LensPush configuration: it never pushes (studies arrive late, through the change feed)', fix: setup };
  if (!p.loaded) return { name, ok: false, detail: 'Orthanc has not loaded plugin/lens-push.lua (no OnStableStudy in its Lua scripts): it never pushes', fix: setup };
  if (!p.enabled) return { name, ok: false, detail: 'LensPush.Enabled is false in Orthanc: it never pushes', fix: 'set LensPush.Enabled to true, or listener.webhook.enabled to false' };
  if (p.reached) return { name, ok: true, detail: `Orthanc pushed a probe to ${p.url} and ${receiver} answered it: URL and secret match` };
  const why = !p.hasSecret
    ? 'LensPush has no Secret'
    : receiverUp
      ? `${receiver} takes listener.webhook.secret, so Orthanc's LensPush.Secret differs from it, or LensPush.Url points elsewhere`
      : `the service is not running and doctor could not listen on ${cfg.server.host}:${cfg.server.port} in its place`;
  return {
    name, ok: !receiverUp, note: receiverUp ? undefined : 'skip',
    detail: `Orthanc's push to ${p.url} did not reach this service with the right secret (${why}${p.error ? `; Orthanc: ${p.error}` : ''})`,
    fix: receiverUp ? "make LensPush.Secret equal listener.webhook.secret and LensPush.Url point to this service's /webhook/orthanc" : 'start `lens serve` and run doctor again',
  };
}

function orthancConfigFileCheck(file: string, secret: string, env: NodeJS.ProcessEnv): Check {
  const name = `webhook (${file})`;
  let push: { Secret?: unknown; Url?: unknown; Enabled?: unknown } | undefined;
  try {
    // Orthanc's files may hold comments (Debian's do).
    push = parseOrthancJson(fs.readFileSync(file, 'utf8'), file).LensPush as typeof push;
  } catch (e) {
    return { name, ok: false, detail: `cannot read it as JSON: ${firstLine(e)}` };
  }
  if (!push) return { name, ok: false, detail: 'no LensPush section: Orthanc would never push', fix: 'add LensPush (orthanc/lens.json shows it)' };
  if (push.Enabled === false) return { name, ok: false, detail: 'LensPush.Enabled is false: Orthanc would never push' };
  if (typeof push.Secret !== 'string' || !push.Secret) return { name, ok: false, detail: 'LensPush has no Secret: the service refuses its pushes' };
  // The orthancteam image replaces ${VAR} with Orthanc's environment: compare with ours when we have the variable.
  const ref = /^\$\{(\w+)\}$/.exec(push.Secret);
  const value = ref ? env[ref[1]] : push.Secret;
  if (value === undefined)
    return { name, ok: true, note: 'warn', detail: `LensPush.Secret comes from Orthanc's environment variable ${ref![1]}, unknown here: not compared`, fix: `run doctor with ${ref![1]} set as for Orthanc` };
  return safeEqual(value, secret)
    ? { name, ok: true, detail: `LensPush.Secret${ref ? ` (from ${ref[1]})` : ''} equals listener.webhook.secret; LensPush.Url ${String(push.Url)}` }
    : { name, ok: false, detail: `LensPush.Secret${ref ? ` (from ${ref[1]})` : ''} differs from listener.webhook.secret: the service refuses Orthanc's pushes`, fix: 'use the same secret on both sides' };
}

/** The query the DICOMweb poller sends (src/listener/dicomweb-poll.ts), for one study. */
async function pollCheck(cfg: LensConfig): Promise<Check> {
  const p = cfg.listener.dicomwebPoll;
  const w = pollWindow(new Date(), undefined, p.lookbackMinutes, p.studyDateLookbackDays);
  try {
    const studies = await quickClient(cfg).searchStudies({ StudyDate: w.studyDate, includefield: '00201208' }, { limit: 1 });
    return { name: 'DICOMweb poll', ok: true, detail: `QIDO-RS StudyDate=${w.studyDate} answered (${studies.length ? 'studies in the window' : 'no study in the window yet'})` };
  } catch (e) {
    return { name: 'DICOMweb poll', ok: false, detail: `QIDO-RS StudyDate=${w.studyDate}: ${firstLine(e)}`, fix: 'the PACS must answer QIDO-RS study searches by StudyDate range' };
  }
}

function toolCheck(pkg: string, bin: string, args: string[], install: string): Check {
  try {
    const path = execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
    let version = '';
    if (args.length) {
      try {
        version = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').find((l) => /\d/.test(l))?.trim() ?? '';
      } catch {
        /* the version is only a nicety */
      }
    }
    return { name: pkg, ok: true, detail: `${path}${version ? ` (${version})` : ''}` };
  } catch {
    return { name: pkg, ok: false, detail: `${bin} not found on PATH`, fix: install };
  }
}
