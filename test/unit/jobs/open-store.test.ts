/**
 * jobs.database chooses the store: a file path opens SQLite, a postgres:// URL PostgreSQL (its tests run against a
 * real server in test/integration/jobs/); the URL's password never reaches a log line or the API.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, redactConfig } from '../../../src/config/load';
import { JobStoreUnavailableError } from '../../../src/jobs/errors';
import { describeJobStore, isNetworkStore, openJobStore } from '../../../src/jobs/open-store';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { freePort } from '../../../src/pacs/free-port';

const policy = { maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } };
const url = 'postgres://lens:s3cret-pw@127.0.0.1:5432/lens';

test('a path opens the SQLite store; a postgres:// URL is a network store described without its password', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-open-store-'));
  try {
    const store = await openJobStore(path.join(dir, 'jobs.sqlite'), policy);
    expect(store).toBeInstanceOf(SqliteJobStore);
    expect((await store.enqueue({ studyInstanceUID: '1.2', source: 'manual' })).created).toBe(true);
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(isNetworkStore(url)).toBe(true);
  expect(isNetworkStore('postgresql://h/db')).toBe(true);
  expect(isNetworkStore('/var/lib/lens/jobs.sqlite')).toBe(false);
  expect(describeJobStore(url)).toBe('postgres://lens:***@127.0.0.1:5432/lens');
  expect(describeJobStore('/var/lib/lens/jobs.sqlite')).toBe('/var/lib/lens/jobs.sqlite');
});

test('a PostgreSQL server that is not there: JobStoreUnavailableError (the service waits), and no password in the message', async () => {
  const port = await freePort();
  const error = await openJobStore(`postgres://lens:s3cret-pw@127.0.0.1:${port}/lens`, policy).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(JobStoreUnavailableError);
  expect(error).toMatchObject({ reason: 'store-unavailable', code: 'ECONNREFUSED' });
  expect((error as Error).message).not.toContain('s3cret-pw');
});

test('the configuration as logged and shown by doctor masks the database password', () => {
  const config = loadConfig({ env: { LENS__JOBS__DATABASE: url, LENS__PACS__DICOMWEBURL: 'http://127.0.0.1:8042/dicom-web' } });
  expect(config.jobs.database).toBe(url);
  const shown = JSON.stringify(redactConfig(config));
  expect(shown).not.toContain('s3cret-pw');
  expect(shown).toContain('postgres://lens:***@127.0.0.1:5432/lens');
});
