/**
 * `lens doctor` against a real Orthanc (with plugin/lens-push.lua and its LensPush settings) and a real running
 * service: every event source checked end to end (change feed read, webhook probe pushed by Orthanc itself, the
 * poller's query), the write-back (empty STOW-RS), and a failure wherever the service cannot work.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatReport, runChecks, type Check } from '../../../src/cli/doctor';
import { configSchema } from '../../../src/config/schema';
import { lensOrthancOptions } from '../../../src/listener/orthanc-setup';
import { freePort } from '../../../src/pacs/free-port';
import { OrthancProcess } from '../../../src/pacs/orthanc-process';
import { startService, type RunningService } from '../../../src/server/service';
import { REPO } from './stack';

let dir: string;
let orthanc: OrthancProcess;
let port: number;
const secret = randomBytes(12).toString('hex');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-doctor-'));
  port = await freePort();
  const o = lensOrthancOptions({ serviceUrl: `http://127.0.0.1:${port}`, secret, stableAge: 1 });
  // Lets doctor have Orthanc send the probe (Orthanc 1.10+ refuses scripts over REST without it).
  orthanc = await OrthancProcess.start({ dir: path.join(dir, 'orthanc'), ...o, extraConfig: { ...o.extraConfig, ExecuteLuaEnabled: true } });
}, 60000);
afterAll(async () => {
  await orthanc?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A config file for a service on `port` with this webhook secret (relative workDir: resolved against the file). */
function configFile(name: string, raw: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(raw, null, 2));
  return file;
}
const good = (hookSecret = secret) => ({
  workDir: 'work',
  pacs: { dicomwebUrl: orthanc.dicomwebUrl },
  orthanc: { url: orthanc.url },
  listener: { webhook: { secret: hookSecret }, dicomwebPoll: { enabled: true } },
  model: { dir: path.join(REPO, 'models/lens-ulb') },
  server: { port },
});

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));
const failed = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => c.name);

async function withService<T>(raw: Record<string, unknown>, body: () => Promise<T>): Promise<T> {
  const config = configSchema.parse({ ...raw, workDir: path.join(dir, 'work') });
  const service: RunningService = await startService(config);
  try {
    return await body();
  } finally {
    await service.stop(2000);
  }
}

test('a working set-up passes every check, each event source end to end; the report shows no secret', async () => {
  const file = configFile('good', good());
  const checks = await withService(good(), () => runChecks(file));
  const c = byName(checks);
  expect(failed(checks)).toEqual([]);
  expect(c['change feed'].detail).toMatch(/\/changes readable/);
  expect(c['webhook (service)'].detail).toMatch(/accepts listener\.webhook\.secret/);
  expect(c['webhook (Orthanc push)'].note).toBeUndefined();
  expect(c['webhook (Orthanc push)'].detail).toMatch(/Orthanc pushed a probe .* and this service answered it/);
  expect(c['DICOMweb poll'].detail).toMatch(/QIDO-RS StudyDate=\d{8}- answered/);
  expect(c['write-back (STOW-RS)'].detail).toMatch(/accepts a STOW-RS transaction/);
  expect(c['manifest vs graph'].ok).toBe(true);
  // The probe enqueued nothing, and the empty STOW stored nothing.
  expect(((await (await fetch(`${orthanc.url}/statistics`)).json()) as { CountInstances: number }).CountInstances).toBe(0);
  const report = formatReport(checks);
  expect(report).toMatch(/all checks passed/);
  expect(report).not.toContain(secret);
}, 90000);

test("without the service running, doctor takes Orthanc's push in its place, on the service's address", async () => {
  const checks = await runChecks(configFile('stopped', good()));
  const c = byName(checks);
  expect(c['webhook (service)']).toMatchObject({ ok: true, note: 'skip' });
  expect(formatReport(checks)).toMatch(/SKIP webhook \(service\): no service at/);
  expect(c['webhook (Orthanc push)']).toMatchObject({ ok: true, detail: expect.stringMatching(/doctor, listening on 127\.0\.0\.1:\d+ in the service's place, answered it/) });
  // The same with another secret on our side: refused by the stand-in as the service would.
  const other = byName(await runChecks(configFile('stopped-other', good(randomBytes(12).toString('hex')))));
  expect(other['webhook (Orthanc push)']).toMatchObject({ ok: false, detail: expect.stringMatching(/doctor, listening on .* takes listener\.webhook\.secret, so Orthanc's LensPush\.Secret differs/) });
  // Nothing left listening.
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  expect(formatReport(checks)).not.toContain(secret);
}, 60000);

test("Orthanc's configuration file, when given, is compared with listener.webhook.secret (never shown)", async () => {
  const file = configFile('compare', good());
  // The secret taken from Orthanc's environment, as the orthancteam image does.
  const orthancJson = path.join(dir, 'orthanc-lens.json');
  fs.writeFileSync(orthancJson, JSON.stringify({ LensPush: { Enabled: true, Url: `http://127.0.0.1:${port}/webhook/orthanc`, Secret: '${LENS_WEBHOOK_SECRET}' } }));
  const other = randomBytes(12).toString('hex');
  const differs = await runChecks(file, { pacs: true, orthancConfig: [orthancJson], env: { ...process.env, LENS_WEBHOOK_SECRET: other } });
  expect(byName(differs)[`webhook (${orthancJson})`]).toMatchObject({ ok: false, detail: expect.stringMatching(/LensPush\.Secret \(from LENS_WEBHOOK_SECRET\) differs/) });
  expect(formatReport(differs)).not.toMatch(new RegExp(`${secret}|${other}`));
  const same = await runChecks(file, { orthancConfig: [orthancJson], env: { ...process.env, LENS_WEBHOOK_SECRET: secret } });
  expect(byName(same)[`webhook (${orthancJson})`]).toMatchObject({ ok: true, detail: expect.stringMatching(/equals listener\.webhook\.secret/) });
}, 60000);

test('doctor fails where the service cannot work, naming what to set', async () => {
  // The README example alone: no event source.
  const bare = byName(await runChecks(configFile('bare', { pacs: { dicomwebUrl: orthanc.dicomwebUrl } }), { env: {} }));
  expect(bare.service).toMatchObject({ ok: false, detail: expect.stringMatching(/no event source can deliver studies/) });
  // A misspelt key.
  const typo = await runChecks(configFile('typo', { ...good(), pacs: { dicomWebUrl: orthanc.dicomwebUrl } }), { env: {} });
  expect(typo).toEqual([expect.objectContaining({ name: 'config', ok: false, detail: expect.stringContaining('pacs.dicomWebUrl: did you mean pacs.dicomwebUrl?') })]);
  // A DICOMweb root that is not one, an Orthanc that is not there.
  const closed = await freePort();
  const wrong = byName(
    await runChecks(configFile('wrong-urls', { ...good(), pacs: { dicomwebUrl: `${orthanc.url}/not-dicom-web` }, orthanc: { url: `http://127.0.0.1:${closed}` } }), { env: {} }),
  );
  expect(wrong['PACS (QIDO-RS)'].ok).toBe(false);
  expect(wrong['write-back (STOW-RS)']).toMatchObject({ ok: false, detail: expect.stringMatching(/does not answer STOW-RS \(HTTP 404/) });
  expect(wrong['change feed']).toMatchObject({ ok: false, detail: expect.stringMatching(/unreachable/) });
  expect(wrong['DICOMweb poll'].ok).toBe(false);
  // A model folder without a model.
  const noModel = byName(await runChecks(configFile('no-model', { ...good(), model: { dir: 'nothing-here' } }), { env: {} }));
  expect(noModel.model).toMatchObject({ ok: false, detail: expect.stringContaining(path.join(dir, 'nothing-here')) });
}, 90000);

test('`lens doctor` exits 1 with a readable report when the service cannot work, and never prints a secret', async () => {
  const token = randomBytes(16).toString('hex');
  const file = configFile('cli', { ...good(), listener: { webhook: { enabled: false } }, orthanc: undefined, server: { host: '0.0.0.0', port, apiToken: undefined }, pacs: { dicomwebUrl: orthanc.dicomwebUrl, auth: { type: 'bearer', token } } });
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [path.join(REPO, 'bin/lens.js'), '-c', file, 'doctor'], { env: { ...process.env, LENS_LOG_LEVEL: 'error' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout + stderr }),
    ),
  );
  expect(code).toBe(1);
  expect(out).toMatch(/^FAIL service: no event source can deliver studies/m);
  expect(out).toMatch(/^FAIL service: server\.host 0\.0\.0\.0 is not a loopback address/m);
  expect(out).toMatch(/checks? failed: the service cannot work as configured/);
  expect(out).toContain('"token":"***"');
  expect(out).not.toContain(token);
}, 60000);

test('an Orthanc that refuses scripts over REST (its default) gets a warning that says how to check instead', async () => {
  const plain = await OrthancProcess.start({ dir: path.join(dir, 'orthanc-plain') });
  try {
    const checks = await runChecks(configFile('plain', { ...good(), orthanc: { url: plain.url } }));
    expect(byName(checks)['webhook (Orthanc push)']).toMatchObject({ ok: true, note: 'warn', detail: expect.stringMatching(/ExecuteLuaEnabled is false/) });
    expect(formatReport(checks)).toMatch(/^WARN webhook \(Orthanc push\): .*\n\s+-> compare the LensPush settings with --orthanc-config/m);
  } finally {
    await plain.dispose();
  }
}, 60000);
