/**
 * loadConfig: defaults < config file < LENS__ environment variables; errors that name the key at fault; secrets
 * never repeated in an error message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, redactConfig } from '../../../src/config/load';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-config-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const file = path.join(dir, 'lens.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The ConfigError loadConfig throws (fails the test when it throws nothing or something else). */
function failure(opts: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('loadConfig accepted the configuration');
}

test('defaults, then the file, then the environment', () => {
  const defaults = loadConfig({ env: {} });
  expect(defaults.jobs).toMatchObject({ concurrency: 1, maxAttempts: 5 });
  expect(defaults.pacs.dicomwebUrl).toBe('http://127.0.0.1:8042/dicom-web');

  const file = configFile({ jobs: { concurrency: 2, maxAttempts: 7 }, pacs: { dicomwebUrl: 'http://127.0.0.1:9000/dicom-web' } });
  const fromFile = loadConfig({ file, env: {} });
  expect(fromFile.jobs).toMatchObject({ concurrency: 2, maxAttempts: 7, leaseSeconds: defaults.jobs.leaseSeconds });

  const c = loadConfig({
    file,
    env: {
      LENS__JOBS__CONCURRENCY: '3',
      // Keys are matched case-insensitively, underscores within a key ignored.
      LENS__PACS__DICOMWEBURL: 'http://127.0.0.1:9100/dicom-web',
      LENS__LISTENER__CHANGE_FEED__INTERVAL_MS: '750',
      LENS__MODEL__EXECUTIONPROVIDERS: '["cuda","cpu"]',
      UNRELATED: 'x',
    },
  });
  expect(c.jobs).toMatchObject({ concurrency: 3, maxAttempts: 7 });
  expect(c.pacs.dicomwebUrl).toBe('http://127.0.0.1:9100/dicom-web');
  expect(c.listener.changeFeed.intervalMs).toBe(750);
  expect(c.model.executionProviders).toEqual(['cuda', 'cpu']);
});

test('the file named by LENS_CONFIG is read when no file is given', () => {
  const file = configFile({ jobs: { concurrency: 4 } });
  expect(loadConfig({ env: { LENS_CONFIG: file } }).jobs.concurrency).toBe(4);
});

test('a wrong value is reported with the key that holds it, from the file or from the environment', () => {
  const file = configFile({ jobs: { concurrency: 'two' } });
  const e = failure({ file, env: {} });
  expect(e.message).toContain(file);
  expect(e.message).toMatch(/jobs\.concurrency: /);
  expect(failure({ env: { LENS__LISTENER__CHANGEFEED__STARTFROM: 'yesterday' } }).message).toMatch(/listener\.changeFeed\.startFrom \(LENS__LISTENER__CHANGEFEED__STARTFROM\): /);
});

test('a misspelt key is refused with its name, not silently ignored', () => {
  const e = failure({ file: configFile({ jobs: { concurency: 2 } }), env: {} });
  expect(e.message).toContain('jobs.concurency');
  expect(failure({ env: { LENS__JOBS__LEASE_SECOND: '10' } }).message).toMatch(/jobs\.LEASE_SECOND/);
  // A variant of a union is checked against its own keys.
  expect(failure({ env: {}, file: configFile({ pacs: { auth: { type: 'bearer', token: 'x', tokn: 'y' } } }) }).message).toContain('pacs.auth.tokn');
});

test('a file that cannot be read or parsed is named; the error never repeats a secret written in it', () => {
  expect(failure({ file: path.join(dir, 'missing.json'), env: {} }).message).toMatch(/cannot read config file .*missing\.json/);
  const file = configFile('{"pacs": {"auth": {"type": "basic", "username": "u", "password": hunter2-secret}}}');
  const e = failure({ file, env: {} });
  expect(e.message).toContain(file);
  expect(e.message).toMatch(/not valid JSON/);
  expect(e.message).not.toContain('hunter2');
});

test('secrets from the environment stay strings (digits included), are not echoed in errors, and are redacted', () => {
  const c = loadConfig({ env: { LENS__LISTENER__WEBHOOK__SECRET: '12345678', LENS__SERVER__APITOKEN: '1234567890123456' } });
  expect(c.listener.webhook.secret).toBe('12345678');
  expect(c.server.apiToken).toBe('1234567890123456');
  const e = failure({ env: { LENS__PACS__AUTH: '{"type":"basic","username":"","password":"hunter2-secret"}' } });
  expect(e.message).toMatch(/pacs\.auth\.username/);
  expect(e.message).not.toContain('hunter2');
  const redacted = JSON.stringify(redactConfig(loadConfig({ env: { LENS__PACS__AUTH: '{"type":"basic","username":"u","password":"hunter2-secret"}' } })));
  expect(redacted).not.toContain('hunter2');
  expect(redacted).toContain('"password":"***"');
});

describe('every section is strict, and the key meant is named', () => {
  test.each([
    [{ pacs: { dicomWebUrl: 'http://127.0.0.1:8042/dicom-web' } }, 'pacs.dicomWebUrl: did you mean pacs.dicomwebUrl?'],
    [{ server: { prot: 8700 } }, 'server.prot: did you mean server.port?'],
    [{ listener: { changeFeed: { intervalMS: 500, enable: true } } }, 'listener.changeFeed.enable: did you mean listener.changeFeed.enabled?'],
    [{ listener: { webhook: { secrets: 'x' } } }, 'listener.webhook.secrets: did you mean listener.webhook.secret?'],
    [{ model: { directory: 'm' } }, 'model.directory'],
    [{ pacs: { apiToken: 'x' } }, 'pacs.apiToken: did you mean server.apiToken?'],
    [{ selection: { minSlice: 3 } }, 'selection.minSlice: did you mean selection.minSlices?'],
  ])('%j is refused', (content, message) => {
    const e = failure({ file: configFile(content), env: {} });
    expect(e.message).toContain(message);
  });

  test('every section of the schema is covered, including sections added later (walked generically)', () => {
    // Each section's known keys are accepted and an extra key is refused: no section escapes strictness.
    const defaults = loadConfig({ env: {} }) as unknown as Record<string, unknown>;
    for (const [section, value] of Object.entries(defaults)) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
      const e = failure({ file: configFile({ [section]: { ...value, notAKeyOfThisSection: 1 } }), env: {} });
      expect(e.message).toContain(`${section}.notAKeyOfThisSection`);
    }
  });

  test('an unknown LENS__ variable is refused by its name, with the variable meant', () => {
    const e = failure({ env: { LENS__PACS__DICOMWEBURLL: 'http://127.0.0.1:9/dicom-web' } });
    expect(e.message).toContain('LENS__PACS__DICOMWEBURLL');
    expect(e.message).toContain('did you mean LENS__PACS__DICOMWEBURL (pacs.dicomwebUrl)?');
    expect(failure({ env: { LENS__SERVR__PORT: '1' } }).message).toMatch(/LENS__SERVR__PORT: SERVR is not a configuration key; did you mean LENS__SERVER__PORT \(server\.port\)/);
    expect(failure({ env: { LENS__PACS__AUTH: '{"type":"bearer","token":"abc","tokn":"x"}' } }).message).toContain('pacs.auth.tokn (in the value of LENS__PACS__AUTH): did you mean pacs.auth.token?');
    // A wrong value from a variable names the variable too.
    expect(failure({ env: { LENS__SERVER__PORT: '"eighty"' } }).message).toMatch(/server\.port \(LENS__SERVER__PORT\): /);
  });
});

describe('relative paths are resolved against the config file, not the working directory', () => {
  test('workDir, model.dir, jobs.database and harvest.outDir from a file', () => {
    const sub = path.join(dir, 'etc', 'lens');
    fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'lens.json');
    fs.writeFileSync(file, JSON.stringify({ workDir: 'state', model: { dir: '../models/x' }, jobs: { database: 'db/jobs.sqlite' }, harvest: { outDir: '/abs/harvest' } }));
    const c = loadConfig({ file, env: {}, cwd: '/somewhere/else' });
    expect(c.workDir).toBe(path.join(sub, 'state'));
    expect(c.model.dir).toBe(path.join(dir, 'etc', 'models', 'x'));
    expect(c.jobs.database).toBe(path.join(sub, 'db', 'jobs.sqlite'));
    expect(c.harvest.outDir).toBe('/abs/harvest');
    // A default path is relative to the file too; the shipped model's default does not depend on any folder.
    const bare = configFile({});
    const d = loadConfig({ file: bare, env: {}, cwd: '/elsewhere' });
    expect(d.workDir).toBe(path.join(dir, '.lens'));
    expect(d.model.dir).toBe(path.resolve(__dirname, '../../../models/lens-ulb'));
  });

  test('without a file, against the working directory; URLs and :memory: are left alone', () => {
    const c = loadConfig({ env: { LENS__WORKDIR: 'w', LENS__JOBS__DATABASE: 'postgres://lens@127.0.0.1/lens' }, cwd: '/srv/lens' });
    expect(c.workDir).toBe('/srv/lens/w');
    expect(c.jobs.database).toBe('postgres://lens@127.0.0.1/lens');
    expect(loadConfig({ env: { LENS__JOBS__DATABASE: ':memory:' } }).jobs.database).toBe(':memory:');
  });
});

test('an API token shorter than 16 characters is refused by its key, without being shown', () => {
  const e = failure({ env: { LENS__SERVER__APITOKEN: 'short-secret' } });
  expect(e.message).toMatch(/server\.apiToken \(LENS__SERVER__APITOKEN\): at least 16 characters/);
  expect(e.message).not.toContain('short-secret');
});
