/**
 * The intake gate: closes below the free-space watermark and on the job store's resource failures, reopens by
 * itself once space is back and a probe write succeeds; the polls it guards are skipped (their cursor untouched).
 */
import Database from 'better-sqlite3';
import { JobStoreUnavailableError } from '../../../src/jobs/errors';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { PeriodicPoll } from '../../../src/listener/periodic';
import { IntakeGate, STORE_PROBE_CURSOR } from '../../../src/server/intake-gate';

const MB = 2 ** 20;
const newStore = () => new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });

test('below the watermark intake stops (disk-low); with space back it resumes and the probe write is made', async () => {
  const store = newStore();
  const free = new Map([['/store', 900 * MB], ['/work', 100 * MB]]);
  const gate = new IntakeGate({
    store, minFreeBytes: 256 * MB, checkEveryMs: 1000,
    volumes: [{ name: 'store', folder: '/store' }, { name: 'work', folder: '/work' }],
    freeBytes: async (f) => free.get(f)!,
  });
  await gate.check();
  expect(gate.state).toMatchObject({ open: false, reason: 'disk-low' });
  expect(gate.state.open || gate.state.detail).toMatch(/work volume has 100 MB free/);
  expect(gate.freeBytes().get('work')).toBe(100 * MB);
  expect(await store.getCursor(STORE_PROBE_CURSOR)).toBeUndefined();

  free.set('/work', 300 * MB);
  await gate.check();
  expect(gate.isOpen()).toBe(true);
  expect(await store.getCursor(STORE_PROBE_CURSOR)).toBeDefined();
  await store.close();
});

test('a store failure closes the gate at once; it stays closed while the probe write fails, then reopens', async () => {
  let full = true;
  const store = {
    setCursor: async () => {
      if (full) throw new JobStoreUnavailableError('job store: disk full (SQLITE_FULL)', 'store-full', 'SQLITE_FULL');
    },
  };
  const gate = new IntakeGate({ store, minFreeBytes: 0, checkEveryMs: 1000, volumes: [], freeBytes: async () => 0 });
  expect(gate.report(new Error('a bug, not a resource'))).toBe(false);
  expect(gate.isOpen()).toBe(true);
  expect(gate.report(new JobStoreUnavailableError('job store: disk full (SQLITE_FULL)', 'store-full', 'SQLITE_FULL'))).toBe(true);
  expect(gate.state).toMatchObject({ open: false, reason: 'store-full' });
  await gate.check();
  expect(gate.state).toMatchObject({ open: false, reason: 'store-full' });
  full = false;
  await gate.check();
  expect(gate.isOpen()).toBe(true);
});

test('a poll is skipped while intake is stopped and its store failure closes the gate instead of failing loudly', async () => {
  let open = false;
  const reported: unknown[] = [];
  let polls = 0;
  const intake = { isOpen: () => open, report: (e: unknown) => (reported.push(e), e instanceof JobStoreUnavailableError) };
  const poll = new PeriodicPoll('test poll', 10, async () => {
    polls++;
    throw new JobStoreUnavailableError('job store: disk full (SQLITE_FULL)', 'store-full', 'SQLITE_FULL');
  }, intake);
  poll.start();
  await new Promise((r) => setTimeout(r, 60));
  expect(polls).toBe(0);
  open = true;
  await new Promise((r) => setTimeout(r, 60));
  await poll.stop();
  expect(polls).toBeGreaterThan(0);
  expect(reported.length).toBe(polls);
});

test('the probe write of a really full store fails with store-full (SQLite capped with max_page_count)', async () => {
  // The store's own database, filled the way a full disk fills it.
  const store = newStore();
  const db = (store as unknown as { db: Database.Database }).db;
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
  const gate = new IntakeGate({ store, minFreeBytes: 0, checkEveryMs: 1000, volumes: [] });
  for (let i = 0; i < 50 && gate.isOpen(); i++) {
    await store.setCursor(`filler-${i}`, 'x'.repeat(2000)).catch((e) => gate.report(e));
  }
  expect(gate.state).toMatchObject({ open: false, reason: 'store-full' });
  await gate.check();
  expect(gate.state).toMatchObject({ open: false, reason: 'store-full' });
  db.pragma('max_page_count = 100000');
  await gate.check();
  expect(gate.isOpen()).toBe(true);
  await store.close();
});
