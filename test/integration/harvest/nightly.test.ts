/**
 * The nightly harvest's runner with the real pieces: a SQLite job store, a worker pool that runs only harvest
 * runs, the forked harvest process over a small synthetic folder. It is stopped (SIGSTOP: the kernel's process
 * state T) while a study analysis is queued, finishes once none is, and is killed when its window ends. Its progress
 * goes to the job's journey and to the service's Prometheus metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configSchema } from '../../../src/config/schema';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { Job } from '../../../src/jobs/types';
import { WorkerPool } from '../../../src/jobs/worker';
import type { HarvestRecord } from '../../../src/harvest/dataset';
import { harvestRunner, liveStudyWork, type HarvestTotals } from '../../../src/harvest/nightly';
import { ServiceMetrics } from '../../../src/server/metrics';
import { writeSyntheticArchive } from '../../../src/harvest/synthetic-archive';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-nightly-'));
  // An analysable study (20 slices) whose reader labeled some of its lesions: it yields harvested lesions and hard negatives.
  writeSyntheticArchive(path.join(tmp, 'archive'), { seed: 13, studies: 1, completeEvery: 0, synth: { size: 128, slices: 20, thickness: 5, lesions: [3, 4] } });
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

function setup(out: string, signal?: AbortSignal, checkEveryMs = 200) {
  const states: { state: string; pid: number }[] = [];
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const config = configSchema.parse({ model: { threads: 1 }, harvest: { outDir: out } });
  const metrics = new ServiceMetrics(store);
  const pool = new WorkerPool({
    store, concurrency: 1, leaseMs: 30000, pollMs: 100,
    runners: {
      'harvest-run': harvestRunner({
        config, liveWork: () => liveStudyWork(store), checkEveryMs, folder: path.join(tmp, 'archive'), signal, onState: (state, pid) => states.push({ state, pid }),
        metrics: metrics.watchHarvest(), journeyEveryMs: 0,
      }),
    },
  });
  return { store, pool, states, metrics, records: () => (fs.existsSync(path.join(out, 'studies')) ? fs.readdirSync(path.join(out, 'studies')).filter((f) => f.endsWith('.json')) : []) };
}

test('the harvest waits while a study analysis is queued, then finishes; its journey and the metrics follow it', async () => {
  const { store, pool, states, records, metrics } = setup(path.join(tmp, 'ds1'));
  const live = (await store.enqueue({ studyInstanceUID: '1.2.3', source: 'manual' })).job;
  const run = (await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt: Date.now() + 3600_000 } })).job;
  pool.start();
  try {
    const paused = await until(async () => states.find((s) => s.state === 'paused'), 20000);
    // The kernel says the harvest process is stopped (state T; the signal is delivered asynchronously), and it wrote nothing.
    const kernelState = () => fs.readFileSync(`/proc/${paused.pid}/stat`, 'utf8').split(') ')[1][0];
    expect(await until(async () => (kernelState() === 'T' ? 'T' : undefined), 5000)).toBe('T');
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

    const record = JSON.parse(fs.readFileSync(path.join(tmp, 'ds1', 'studies', records()[0]), 'utf8')) as HarvestRecord;
    expect(record.harvested.length).toBeGreaterThan(0);
    const proposals = record.matched.length + record.harvested.length + record.hardNegatives.length + record.uncertain.length;
    const progress = (await store.journey(run.id)).filter((e) => e.event === 'harvest-progress').map((e) => e.details);
    expect(progress[0]).toEqual({ state: 'paused', liveStudies: 1 });
    expect(progress[1]).toEqual({ state: 'resumed' });
    expect(progress[2]).toEqual<HarvestTotals>({
      studiesDone: 1, studiesFound: 1, harvestedStudies: 1, alreadyHarvested: 0, notAnalysed: 0, failed: 0,
      proposals, harvested: record.harvested.length, hardNegatives: record.hardNegatives.length, bytesRead: 0,
    });
    const text = await metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('lens_harvest_studies_total\\{outcome="harvested"\\}')).toBe(1);
    expect(value('lens_harvest_proposals_total')).toBe(proposals);
    expect(value('lens_harvest_lesions_total')).toBe(record.harvested.length);
    expect(value('lens_harvest_hard_negatives_total')).toBe(record.hardNegatives.length);
    expect(value('lens_harvest_run_seconds_count\\{outcome="done"\\}')).toBe(1);
    expect(value('lens_harvest_state\\{state="ended"\\}')).toBe(1);
  } finally {
    await pool.stop();
    await store.close();
  }
}, 90000);

test('the harvest is killed at the end of its window, leaving no partial record; a run after its window is skipped', async () => {
  // Looks every millisecond: the SIGKILLed process exits long after the next look, which must not kill and report again.
  const { store, pool, states, records } = setup(path.join(tmp, 'ds2'), undefined, 1);
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
