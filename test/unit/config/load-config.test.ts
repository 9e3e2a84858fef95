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
  expect(failure({ env: { LENS__LISTENER__CHANGEFEED__STARTFROM: 'yesterday' } }).message).toMatch(/listener\.changeFeed\.startFrom: /);
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
  const c = loadConfig({ env: { LENS__LISTENER__WEBHOOK__SECRET: '12345678', LENS__SERVER__APITOKEN: 'true' } });
  expect(c.listener.webhook.secret).toBe('12345678');
  expect(c.server.apiToken).toBe('true');
  const e = failure({ env: { LENS__PACS__AUTH: '{"type":"basic","username":"","password":"hunter2-secret"}' } });
  expect(e.message).toMatch(/pacs\.auth\.username/);
  expect(e.message).not.toContain('hunter2');
  const redacted = JSON.stringify(redactConfig(loadConfig({ env: { LENS__PACS__AUTH: '{"type":"basic","username":"u","password":"hunter2-secret"}' } })));
  expect(redacted).not.toContain('hunter2');
  expect(redacted).toContain('"password":"***"');
});
