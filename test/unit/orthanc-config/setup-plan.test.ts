/**
 * What `lens orthanc-setup` writes where: keys another Orthanc file defines are changed in that file (comments kept),
 * the rest goes to the output file; a second run changes nothing; the command refuses a lens configuration that
 * cannot take pushes. Real Orthanc reading the result: test/integration/pacs/orthanc-setup.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INSTALLED_PUSH_SCRIPT, orthancSetup, webhookUrl } from '../../../src/cli/orthanc-setup';
import { configSchema } from '../../../src/config/schema';
import { blankComments, parseOrthancJson, setTopLevel } from '../../../src/orthanc-config/commented-json';
import { parseScanner, planOrthancSetup, type SetupRequest } from '../../../src/orthanc-config/setup-plan';
import { parse as parseYaml } from 'yaml';

const REPO = path.resolve(__dirname, '../../..');

/** The shape of Debian's /etc/orthanc/orthanc.json: comments, and the keys lens-pacs sets already defined. */
const DEBIAN_LIKE = `{
  /**
   * General configuration of Orthanc
   **/
  "Name" : "MyOrthanc", // a trailing comment
  "LuaScripts" : [
    "/etc/orthanc/site.lua"
  ],
  "DicomAlwaysAllowStore" : true,
  "DicomCheckModalityHost" : false,
  "DicomModalities" : {
    // "sample" : [ "STORESCP", "127.0.0.1", 2000 ]
    "pacs-peer" : [ "PEER", "10.0.0.9", 104 ]
  },
  "StableAge" : 60
}
`;

const request: SetupRequest = {
  pushUrl: 'http://127.0.0.1:8700/webhook/orthanc',
  secret: 's3cret',
  pluginPath: '/opt/lens-pacs/plugin/lens-push.lua',
  scanners: [parseScanner('CT1@10.1.2.31:104')],
};

test('keys Debian orthanc.json defines are changed in place with its comments; the others go to the new file', () => {
  const plan = planOrthancSetup(request, { path: '/etc/orthanc/lens.json' }, [{ path: '/etc/orthanc/orthanc.json', text: DEBIAN_LIKE }]);
  const [debian, created] = plan.writes;
  expect(debian.path).toBe('/etc/orthanc/orthanc.json');
  expect(debian.keys).toEqual(['LuaScripts', 'DicomModalities', 'DicomAlwaysAllowStore', 'DicomCheckModalityHost']);
  for (const kept of ['General configuration of Orthanc', '// a trailing comment', '// "sample" : [ "STORESCP"']) expect(debian.text).toContain(kept);
  const d = parseOrthancJson(debian.text, 'debian');
  expect(d.LuaScripts).toEqual(['/etc/orthanc/site.lua', request.pluginPath]);
  expect(d.DicomModalities).toEqual({
    'pacs-peer': ['PEER', '10.0.0.9', 104],
    'lens-ct1': { AET: 'CT1', Host: '10.1.2.31', Port: 104, AllowEcho: true, AllowStore: true, AllowFind: false, AllowMove: false, AllowGet: false },
  });
  expect(d).toMatchObject({ DicomAlwaysAllowStore: false, DicomCheckModalityHost: true, StableAge: 60, Name: 'MyOrthanc' });

  expect(created).toMatchObject({ path: '/etc/orthanc/lens.json', created: true });
  const f = parseOrthancJson(created.text, 'lens.json');
  expect(f.LensPush).toEqual({ Enabled: true, Url: request.pushUrl, Secret: 's3cret', TimeoutSeconds: 5, RetryMaxSeconds: 60, MaxQueue: 1000 });
  expect(f).toMatchObject({ DicomCheckCalledAet: true, LuaHeartBeatPeriod: 2, DicomWeb: { Enable: true } });
  // No key in two files (Debian's Orthanc refuses to start on one).
  expect(Object.keys(f).filter((k) => k in d)).toEqual([]);
  expect(plan.notes.join('\n')).toMatch(/also lists pacs-peer/);

  // Run again on the result: nothing to write.
  const again = planOrthancSetup(request, { path: '/etc/orthanc/lens.json', text: created.text }, [{ path: '/etc/orthanc/orthanc.json', text: debian.text }]);
  expect(again.writes).toEqual([]);
});

test('another copy of lens-push.lua is replaced, not loaded twice; the output file keeps keys it already had', () => {
  const existing = JSON.stringify({ LuaScripts: ['/old/plugin/lens-push.lua', '/site.lua'], LensPush: { Url: 'http://old', Secret: 'old', MaxQueue: 50 }, Other: 1 });
  const plan = planOrthancSetup({ ...request, scanners: [] }, { path: '/o/lens.json', text: existing }, []);
  const f = parseOrthancJson(plan.writes[0].text, 'f');
  expect(f.LuaScripts).toEqual(['/site.lua', request.pluginPath]);
  expect(f.LensPush).toEqual({ Enabled: true, Url: request.pushUrl, Secret: 's3cret', TimeoutSeconds: 5, RetryMaxSeconds: 60, MaxQueue: 50 });
  expect(f.Other).toBe(1);
  expect(plan.notes.join('\n')).toMatch(/\/old\/plugin\/lens-push.lua replaced/);
  // Without --scanner the store rules stay as they are, and that any peer may store is said.
  expect(f.DicomAlwaysAllowStore).toBeUndefined();
  expect(plan.notes.join('\n')).toMatch(/any DICOM peer .* may store/);
});

test('StableAge only when asked; a ${VAR} secret is written as the reference', () => {
  const plan = planOrthancSetup({ ...request, secret: '${LENS_WEBHOOK_SECRET}', stableAge: 30 }, { path: '/o/lens.json' }, [{ path: '/o/orthanc.json', text: DEBIAN_LIKE }]);
  expect(parseOrthancJson(plan.writes[0].text, 'o').StableAge).toBe(30);
  expect((parseOrthancJson(plan.writes[1].text, 'l').LensPush as { Secret: string }).Secret).toBe('${LENS_WEBHOOK_SECRET}');
});

test("orthanc/lens.json (demo, tests) pushes with the same settings as the command writes", () => {
  const shipped = parseOrthancJson(fs.readFileSync(path.join(REPO, 'orthanc/lens.json'), 'utf8'), 'orthanc/lens.json');
  const plan = planOrthancSetup({ ...request, pushUrl: '${SERVICE_URL}/webhook/orthanc', secret: '${SECRET}', scanners: [] }, { path: '/o/lens.json' }, []);
  expect(shipped.LensPush).toEqual(parseOrthancJson(plan.writes[0].text, 'f').LensPush);
});

test('scanner specifications', () => {
  expect(parseScanner('CT1@10.1.2.31')).toEqual({ name: 'lens-ct1', aet: 'CT1', host: '10.1.2.31', port: 104 });
  expect(parseScanner('room-2=CT_2@ct2.example.org:11112')).toEqual({ name: 'room-2', aet: 'CT_2', host: 'ct2.example.org', port: 11112 });
  for (const bad of ['CT1', '@10.1.2.3', 'CT1@10.1.2.3:0', 'AN_AE_TITLE_OF_17C@h', 'CT1@10.1.2.3:70000'])
    expect(() => parseScanner(bad)).toThrow(/expected \[NAME=\]AET@HOST\[:PORT\]/);
});

test('commented JSON: comments blanked in place, members added to empty objects and after trailing comments', () => {
  const text = '{ "a": "x//y", /* c */ "b": [1, {"c": "}"}] // end\n}';
  expect(blankComments(text)).toHaveLength(text.length);
  expect(parseOrthancJson(text, 't')).toEqual({ a: 'x//y', b: [1, { c: '}' }] });
  const added = setTopLevel(text, 'n', { k: 1 });
  expect(parseOrthancJson(added, 't')).toEqual({ a: 'x//y', b: [1, { c: '}' }], n: { k: 1 } });
  expect(added).toContain('// end');
  expect(parseOrthancJson(setTopLevel('{ // nothing yet\n}', 'n', 2), 't')).toEqual({ n: 2 });
  expect(parseOrthancJson(setTopLevel('{"o": {}}', 'o', { k: [1] }), 't')).toEqual({ o: { k: [1] } });
  expect(() => parseOrthancJson('{ "a": 1,, }', '/etc/orthanc/x.json')).toThrow(/\/etc\/orthanc\/x.json is not an Orthanc configuration file/);
});

describe('lens orthanc-setup', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-orthanc-setup-unit-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = (raw: Record<string, unknown>) => configSchema.parse(raw);

  test('refuses a lens configuration that cannot take pushes, naming the key', () => {
    const out = path.join(dir, 'refused.json');
    expect(() => orthancSetup(cfg({}), { out })).toThrow(/listener.webhook.secret is not set/);
    expect(() => orthancSetup(cfg({ listener: { webhook: { enabled: false, secret: 's' } } }), { out })).toThrow(/listener.webhook.enabled is false/);
    const ok = cfg({ listener: { webhook: { secret: 's' } } });
    expect(() => orthancSetup(ok, { out, secretEnv: 'LENS_SECRET' }, { env: { LENS_SECRET: 'other' } })).toThrow(/another value than listener.webhook.secret/);
    expect(() => orthancSetup(ok, { out, scanner: ['CT1'] })).toThrow(/--scanner CT1: expected/);
    expect(() => orthancSetup(ok, { out: path.join(dir, 'no/such/folder.json') })).toThrow(/does not exist/);
    expect(() => orthancSetup(ok, { out, pluginPath: 'relative.lua' })).toThrow(/absolute path/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('writes the file with the installed script and says what is left to do', () => {
    const folder = fs.mkdtempSync(path.join(dir, 'etc-'));
    const out = path.join(folder, 'lens.json');
    const report = orthancSetup(cfg({ listener: { webhook: { secret: 's' } }, server: { host: '0.0.0.0', port: 8701, apiToken: 'a-token-of-16-chars' } }), { out, scanner: ['CT1@10.1.2.31'] });
    const f = parseOrthancJson(fs.readFileSync(out, 'utf8'), out);
    expect(f.LuaScripts).toEqual([INSTALLED_PUSH_SCRIPT]);
    expect(f.LensPush).toMatchObject({ Url: 'http://127.0.0.1:8701/webhook/orthanc', Secret: 's' });
    expect(fs.statSync(out).mode & 0o777).toBe(0o640);
    expect(report).toMatch(/still to do:\n {2}- restart Orthanc/);
    expect(report).toContain(`doctor --orthanc-config ${out}`);
    // --plugin-dir: the script is copied there and loaded from there.
    const lua = fs.mkdtempSync(path.join(dir, 'lua-'));
    orthancSetup(cfg({ listener: { webhook: { secret: 's' } } }), { out, pluginDir: lua });
    expect(fs.readFileSync(path.join(lua, 'lens-push.lua'), 'utf8')).toBe(fs.readFileSync(INSTALLED_PUSH_SCRIPT, 'utf8'));
    expect(parseOrthancJson(fs.readFileSync(out, 'utf8'), out).LuaScripts).toEqual([path.join(lua, 'lens-push.lua')]);
  });

  test('the shipped orthanc.docker.json starts as is (its ${VAR}s come from compose) and takes scanners from the documented command', () => {
    const shipped = fs.readFileSync(path.join(REPO, 'orthanc/orthanc.docker.json'), 'utf8');
    const compose = parseYaml(fs.readFileSync(path.join(REPO, 'docker-compose.yml'), 'utf8')) as { services: { orthanc: { environment: Record<string, string>; volumes: string[] } } };
    for (const [, name] of shipped.matchAll(/\$\{(\w+)\}/g)) expect({ name, inCompose: name in compose.services.orthanc.environment }).toEqual({ name, inCompose: true });
    const mounted = compose.services.orthanc.volumes.find((v) => v.startsWith('./plugin/lens-push.lua:'))!.split(':')[1];
    // docs/pacs.md, "With docker-compose": the command an administrator runs on the checkout.
    const copy = path.join(fs.mkdtempSync(path.join(dir, 'docker-')), 'orthanc.docker.json');
    fs.writeFileSync(copy, shipped);
    const report = orthancSetup(
      cfg({ listener: { webhook: { secret: 'the-compose-secret' } } }),
      { out: copy, orthancConfig: [copy], scanner: ['CT1@10.1.2.31'], pushUrl: 'http://lens:8700', secretEnv: 'LENS_WEBHOOK_SECRET', pluginPath: mounted },
      { env: {} },
    );
    expect(report).toMatch(/updated .*orthanc.docker.json: DicomModalities\n/);
    const after = parseOrthancJson(fs.readFileSync(copy, 'utf8'), copy);
    expect(after).toEqual({ ...parseOrthancJson(shipped, 'shipped'), DicomModalities: { 'lens-ct1': expect.objectContaining({ AET: 'CT1', Host: '10.1.2.31' }) } });
  });

  test('--dry-run prints the new values with the secret masked and writes nothing', () => {
    const folder = fs.mkdtempSync(path.join(dir, 'dry-'));
    fs.writeFileSync(path.join(folder, 'orthanc.json'), DEBIAN_LIKE);
    const lua = fs.mkdtempSync(path.join(dir, 'lua-'));
    const report = orthancSetup(cfg({ listener: { webhook: { secret: 'never-printed' } } }), { out: path.join(folder, 'lens.json'), scanner: ['CT1@10.1.2.31'], pluginDir: lua, dryRun: true });
    expect(report).toMatch(/would change in place .*orthanc.json: LuaScripts, DicomModalities/);
    expect(report).toContain(`    LuaScripts: ["/etc/orthanc/site.lua","${path.join(lua, 'lens-push.lua')}"]`);
    expect(report).toMatch(/would write .*lens.json: LensPush/);
    expect(report).toContain('"Secret":"***"');
    expect(report).not.toContain('never-printed');
    expect(fs.readdirSync(folder)).toEqual(['orthanc.json']);
    expect(fs.readFileSync(path.join(folder, 'orthanc.json'), 'utf8')).toBe(DEBIAN_LIKE);
    expect(fs.readdirSync(lua)).toEqual([]);
  });

  test('the push URL: from server.host and server.port, or --push-url', () => {
    const c = cfg({ server: { host: '::1', port: 8700 } });
    expect(webhookUrl(c)).toBe('http://[::1]:8700/webhook/orthanc');
    expect(webhookUrl(c, 'http://lens:8700')).toBe('http://lens:8700/webhook/orthanc');
    expect(webhookUrl(c, 'https://lens.example.org/pacs/webhook/orthanc')).toBe('https://lens.example.org/pacs/webhook/orthanc');
    expect(() => webhookUrl(c, 'ftp://x')).toThrow(/http or https/);
  });
});
