/**
 * The nightly harvest's runner with the real pieces: a SQLite job store, a worker pool that runs only harvest
 * runs, the forked harvest process over a small synthetic folder. It is stopped (SIGSTOP: the kernel's process
 * state T) while a study analysis is queued, finishes once none is, and is killed when its window ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { Job } from '../../../src/jobs/types';
import { WorkerPool } from '../../../src/jobs/worker';
import { harvestRunner, liveStudyWork } from '../../../src/harvest/nightly';
import { writeSyntheticArchive } from '../../../src/harvest/synthetic-archive';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-nightly-'));
  writeSyntheticArchive(path.join(tmp, 'archive'), { seed: 17, studies: 1, completeEvery: 0, synth: { size: 256, slices: 16, thickness: 5, lesions: [2, 3] } });
}, 60000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function until<T>(f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function setup(out: string, signal?: AbortSignal) {
  const states: { state: string; pid: number }[] = [];
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const config = configSchema.parse({ model: { threads: 1 }, harvest: { outDir: out } });
  const pool = new WorkerPool({
    store, concurrency: 1, leaseMs: 30000, pollMs: 100,
    runners: { 'harvest-run': harvestRunner({ config, liveWork: () => liveStudyWork(store), checkEveryMs: 200, folder: path.join(tmp, 'archive'), signal, onState: (state, pid) => states.push({ state, pid }) }) },
  });
  return { store, pool, states, records: () => (fs.existsSync(path.join(out, 'studies')) ? fs.readdirSync(path.join(out, 'studies')).filter((f) => f.endsWith('.json')) : []) };
}

test('the harvest waits while a study analysis is queued, then finishes', async () => {
  const { store, pool, states, records } = setup(path.join(tmp, 'ds1'));
  const live = (await store.enqueue({ studyInstanceUID: '1.2.3', source: 'manual' })).job;
  const run = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() + 3600_000 } })).job;
  pool.start();
  try {
    const paused = await until(async () => states.find((s) => s.state === 'paused'), 20000);
    // The kernel says the harvest process is stopped (state T), and it wrote nothing.
    expect(fs.readFileSync(`/proc/${paused.pid}/stat`, 'utf8').split(') ')[1][0]).toBe('T');
    expect(records()).toEqual([]);
    expect((await store.get(run.id))?.state).toBe('running');
    // The live study is done: the harvest resumes and completes.
    const claimed = await store.claim('live-worker', 10000, { kinds: ['study-analysis'] });
    expect(claimed?.id).toBe(live.id);
    await store.complete(live.id, 'live-worker', { kind: 'skipped', reason: 'test', message: 'analysed elsewhere' });
    const done = await until(async () => {
      const j = await store.get(run.id);
      return j && j.state !== 'running' && j.state !== 'queued' ? (j as Job) : undefined;
    }, 60000);
    expect(done.state).toBe('succeeded');
    expect(records()).toHaveLength(1);
    expect(states.map((s) => s.state)).toEqual(['started', 'paused', 'resumed']);
  } finally {
    await pool.stop();
    await store.close();
  }
}, 90000);

test('the harvest is killed at the end of its window, leaving no partial record; a run after its window is skipped', async () => {
  const { store, pool, states, records } = setup(path.join(tmp, 'ds2'));
  await store.enqueue({ studyInstanceUID: '1.2.4', source: 'manual' });
  const run = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() + 2000 } })).job;
  const late = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() - 1000 } })).job;
  pool.start();
  try {
    const ended = await until(async () => {
      const j = await store.get(run.id);
      return j && j.state === 'succeeded' ? j : undefined;
    }, 30000);
    expect(ended.finishedAt! - ended.createdAt).toBeGreaterThanOrEqual(2000);
    expect(records()).toEqual([]);
    expect(states.map((s) => s.state)).toEqual(['started', 'paused', 'killed']);
    const skipped = await until(async () => {
      const j = await store.get(late.id);
      return j && j.state === 'skipped' ? j : undefined;
    }, 10000);
    expect(skipped.reason).toBe('window-over');
  } finally {
    await pool.stop();
    await store.close();
  }
}, 60000);

test('the service stopping kills the harvest process and leaves the job to a later run', async () => {
  const stop = new AbortController();
  const { store, pool, states } = setup(path.join(tmp, 'ds3'), stop.signal);
  await store.enqueue({ studyInstanceUID: '1.2.5', source: 'manual' });
  const run = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() + 3600_000 } })).job;
  pool.start();
  try {
    await until(async () => states.find((s) => s.state === 'paused'), 20000);
    stop.abort();
    await until(async () => states.find((s) => s.state === 'killed'), 10000);
    await pool.stop();
    // Abandoned, not failed: the job is taken up again once its lease expires.
    expect((await store.get(run.id))?.state).toBe('running');
  } finally {
    await pool.stop();
    await store.close();
  }
}, 60000);
