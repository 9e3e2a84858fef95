/**
 * `lens orthanc-setup` on an existing Orthanc started as Debian's service starts it (on a configuration folder whose
 * orthanc.json already defines LuaScripts, DicomModalities and the store rules, so a second definition would stop
 * it): the command's output, unedited, makes Orthanc push to the service with the right secret beside the site's own
 * Lua script, lets the listed scanner store and refuses another sender, and `lens doctor` passes on it. The service is the real HTTP app
 * (webhook route, secret check, SQLite job store) in process: a job for the study is what proves the push arrived.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChecks } from '../../../src/cli/doctor';
import { main } from '../../../src/cli';
import { storescu } from '../../../src/listener/storescu';
import { OrthancProcess } from '../../../src/pacs/orthanc-process';
import { startTestApp, type TestApp } from '../../helpers/test-app';
import { synthStudy, waitFor } from '../service/stack';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-orthanc-setup-'));
const secret = randomBytes(12).toString('hex');
let app: TestApp;
let orthanc: OrthancProcess;
let lensConfig: string;
let out: string;

beforeAll(async () => {
  app = await startTestApp({ webhook: { enabled: true, secret } });
  // The hospital's Orthanc: running, a Lua script of its own, its own store rules; ExecuteLuaEnabled lets doctor ask it.
  const siteScript = path.join(dir, 'site.lua');
  fs.writeFileSync(siteScript, "function OnStableStudy(studyId, tags, metadata) print('site script: stable ' .. tags['StudyInstanceUID']) end\n");
  orthanc = await OrthancProcess.start({ dir: path.join(dir, 'orthanc'), stableAge: 1, configFolder: true, luaScripts: [siteScript], extraConfig: { ExecuteLuaEnabled: true } });
  lensConfig = path.join(dir, 'lens.json');
  fs.writeFileSync(
    lensConfig,
    JSON.stringify({
      pacs: { dicomwebUrl: orthanc.dicomwebUrl },
      orthanc: { url: orthanc.url },
      listener: { webhook: { secret } },
      server: { port: app.port },
    }),
  );
  out = path.join(orthanc.configDir!, 'lens.json');
}, 60000);

afterAll(async () => {
  await orthanc?.dispose();
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30000);

/** Runs the CLI in process; answers its exit status and what it printed. */
async function lens(...args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    return { code: await main(['node', 'lens', '-c', lensConfig, ...args]), stdout };
  } finally {
    spy.mockRestore();
  }
}

test('the written configuration connects the running Orthanc after a restart: the scanner stores, the push makes a job, doctor passes', async () => {
  // No --orthanc-config: Orthanc's configuration is the folder of --out, as with /etc/orthanc/lens.json.
  const setup = await lens('orthanc-setup', '--out', out, '--scanner', 'SETUPCT@127.0.0.1:104');
  expect(setup.code).toBe(0);
  // Keys orthanc.json defines are changed there; the rest is in the new file; what is left to do is said.
  expect(setup.stdout).toMatch(/changed in place .*orthanc\.json .*LuaScripts, DicomModalities\n/);
  expect(setup.stdout).toMatch(/wrote .*lens\.json: LensPush/);
  expect(setup.stdout).toMatch(/restart Orthanc/);
  expect(fs.statSync(out).mode & 0o077).toBe(0o040); // holds the secret: not world-readable

  await orthanc.stop();
  await orthanc.launch(); // would exit at once on a key defined in two files

  const blocked = await synthStudy(11, path.join(dir, 'blocked'), { size: 32, slices: 2 });
  await expect(storescu(blocked.files, { port: orthanc.dicomPort, calledAet: orthanc.aet, callingAet: 'STRANGER' })).rejects.toThrow();

  const study = await synthStudy(12, path.join(dir, 'study'), { size: 32, slices: 2 });
  await storescu(study.files, { port: orthanc.dicomPort, calledAet: orthanc.aet, callingAet: 'SETUPCT' });
  const jobs = await waitFor(async () => {
    const j = (await app.store.list()).filter((x) => x.studyInstanceUID === study.studyUID);
    return j.length ? j : undefined;
  }, 30000, 'a job for the study pushed by Orthanc');
  expect(jobs.map((j) => j.source)).toEqual(['webhook']);
  // The site's own OnStableStudy still runs beside the push.
  expect(fs.readFileSync(orthanc.logPath, 'utf8')).toContain(`site script: stable ${study.studyUID}`);
  expect((await app.store.list()).some((x) => x.studyInstanceUID === blocked.studyUID)).toBe(false);

  // doctor: the file's secret and, through Orthanc itself, the push to the running service.
  const checks = await runChecks(lensConfig, { orthancConfig: [out], env: { ...process.env } });
  const failed = checks.filter((c) => !c.ok);
  expect(failed).toEqual([]);
  expect(checks.find((c) => c.name === `webhook (${out})`)).toMatchObject({ ok: true });
  expect(checks.find((c) => c.name === 'webhook (Orthanc push)')?.note).toBeUndefined();

  // A second run finds nothing to change.
  const again = await lens('orthanc-setup', '--orthanc-config', orthanc.configDir!, '--out', out, '--scanner', 'SETUPCT@127.0.0.1:104');
  expect(again.stdout).toMatch(/nothing to change/);
}, 90000);
