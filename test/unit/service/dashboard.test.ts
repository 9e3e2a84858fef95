import { PNG } from 'pngjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobCompletion, JourneyEvent, StudyAnalysisJob, StudyInfo } from '../../../src/jobs/types';
import { selectionSchema } from '../../../src/config/schema';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { selectStage, studyInfoOf } from '../../../src/pipeline/select-stage';
import type { InstanceHeader } from '../../../src/dicom/instance-header';
import { picturePath, pictureUrl, readHarvestDataset, renderHarvest } from '../../../src/server/dashboard/harvest';
import { duration } from '../../../src/server/dashboard/layout';
import { overviewData, renderOverview } from '../../../src/server/dashboard/overview';
import { parseStudyListRequest, renderStudyList, studyListUrl } from '../../../src/server/dashboard/studies';
import { renderStudyPage } from '../../../src/server/dashboard/study';
import { timeline } from '../../../src/server/dashboard/timeline';
import { startTestApp, type TestApp } from '../../helpers/test-app';
import { LUNG_WINDOW, renderKeySlicePng, SOFT_TISSUE_WINDOW, windowForLesionType } from '../../../src/server/key-slice-png';

describe('key-slice picture', () => {
  test('windowed grey values with the lesion box outlined', () => {
    const rows = 20, columns = 30;
    const hu = new Int16Array(rows * columns).fill(-1000);
    hu[5 * columns + 5] = 40; // soft-tissue centre -> mid grey
    hu[6 * columns + 6] = 1000; // above the window -> white
    const png = PNG.sync.read(renderKeySlicePng({ hu, rows, columns }, SOFT_TISSUE_WINDOW, [10, 8, 20, 14]));
    const px = (x: number, y: number) => Array.from(png.data.subarray((y * columns + x) * 4, (y * columns + x) * 4 + 3));
    expect([png.width, png.height]).toEqual([columns, rows]);
    expect(px(0, 0)).toEqual([0, 0, 0]);
    for (const v of px(5, 5)) expect(Math.abs(v - 127.5)).toBeLessThanOrEqual(0.5); // window centre: mid grey
    expect(px(6, 6)).toEqual([255, 255, 255]);
    expect(px(8, 6)).toEqual([255, 215, 0]); // box corner, 2 px outside the lesion box
    expect(px(15, 11)).toEqual([0, 0, 0]); // inside the box stays image
    expect(() => renderKeySlicePng({ hu: new Int16Array(3), rows, columns }, LUNG_WINDOW)).toThrow(/pixels/);
  });
  test('lung nodules get the lung window, everything else soft tissue', () => {
    expect(windowForLesionType('lung_nodule')).toBe(LUNG_WINDOW);
    expect(windowForLesionType('liver_lesion')).toBe(SOFT_TISSUE_WINDOW);
  });
});

const HOSTILE = `<script>alert('x')</script>&"`;
const info = (o: Partial<StudyInfo> = {}): StudyInfo => ({
  studyDate: '20240105', studyDescription: HOSTILE, modality: 'CT', accessionNumber: 'ACC<1>', seriesInstanceUID: '1.2.3.1', seriesDescription: 'Chest 2 mm',
  seriesNumber: 3, instances: 40, ...o,
});
const job: StudyAnalysisJob = {
  id: 7, kind: 'study-analysis', studyInstanceUID: '1.2.3', payload: {}, source: 'webhook', state: 'succeeded', attempts: 1, maxAttempts: 5, nextAttemptAt: 0, force: false,
  receivedAt: 0, createdAt: 0, updatedAt: 0, lesionCount: 1, outputs: { srSopInstanceUID: '1.2.3.4' }, study: info(), timingsMs: { total: 4200 },
  lesions: [{ id: 1, type: 'liver_lesion', score: 0.87, longAxisMm: 21.3, shortAxisMm: 14.2, keySlice: { sopInstanceUID: '1.2.3.9', box: [1, 2, 3, 4] } }],
};

describe('dashboard rendering', () => {
  test('the study list shows date, description, accession and series, escaped; one row per study with the own-output events folded in', () => {
    const html = renderStudyList({ page: 1, perPage: 25 }, { total: 1, studies: [{ studyInstanceUID: '1.2.3', job, study: job.study, jobs: 3, ownOutputEvents: 2 }] });
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;');
    expect(html).toContain('ACC&lt;1&gt;');
    expect(html).toContain('2024-01-05');
    expect(html).toContain('#3 Chest 2 mm');
    expect(html).toContain('+2 own-output');
    expect(html.match(/<tr class="study"/g)).toHaveLength(1);
    // Pictures belong on a study's page only; nothing reloads the list.
    expect(html).not.toMatch(/<img|http-equiv="refresh"/);
  });

  test('list requests: filters and paging are checked, with limits; URLs carry them on', () => {
    expect(parseStudyListRequest({})).toEqual({ page: 1, perPage: 25 });
    const r = parseStudyListRequest({ state: 'dead', q: ' ACC1 ', page: '3', per: '10' });
    expect(r).toEqual({ state: 'dead', search: 'ACC1', page: 3, perPage: 10 });
    expect(studyListUrl(r)).toBe('/dashboard?state=dead&q=ACC1&page=3&per=10');
    expect(parseStudyListRequest({ state: '', q: '' })).toEqual({ page: 1, perPage: 25 });
    for (const bad of [{ state: 'done' }, { per: '201' }, { per: '0' }, { page: '-1' }, { page: '10001' }, { page: '1e3' }, { q: 'x'.repeat(65) }, { q: ['a', 'b'] }])
      expect(() => parseStudyListRequest(bad)).toThrow(/state|per|page|q /);
    const rows = Array.from({ length: 10 }, (_, i) => ({ studyInstanceUID: `1.2.${i}`, job: { ...job, id: i + 1 }, jobs: 1, ownOutputEvents: 0 }));
    const middle = renderStudyList({ page: 2, perPage: 10 }, { total: 35, studies: rows });
    expect(middle).toContain('Studies 11–20 of 35');
    expect(middle).toContain('href="/dashboard?per=10"');
    expect(middle).toContain('href="/dashboard?page=3&amp;per=10"');
    const last = renderStudyList({ page: 4, perPage: 10 }, { total: 35, studies: rows.slice(0, 5) });
    expect(last).toContain('Studies 31–35 of 35');
    expect(last).not.toContain('rel="next"');
  });

  test('the journey is a timeline in words with durations, not JSON', () => {
    const journey: JourneyEvent[] = [
      { id: 1, jobId: 7, at: 1000, event: 'received', details: { source: 'changes' } },
      { id: 2, jobId: 7, at: 1500, event: 'stage-started', details: { stage: 'selected' } },
      { id: 3, jobId: 7, at: 2700, event: 'selected', details: { ms: 1200, seriesInstanceUID: '1.2.3.1', instances: 40, rejected: [{ seriesInstanceUID: '1.2.3.2', reasons: ['scout'] }] } },
      { id: 4, jobId: 7, at: 190_000, event: 'stored', details: { ms: 65_000, srSopInstanceUID: '1.2.3.4' } },
    ];
    const t = timeline(journey);
    expect(t.map((e) => e.label)).toEqual(['Event received', 'Stage selected started', 'Series selected', 'SR and SEG stored in the PACS']);
    expect(t[2]).toMatchObject({ sincePreviousMs: 1200, stageMs: 1200, details: ['seriesInstanceUID: 1.2.3.1', 'instances: 40', 'rejected: 1 item'] });
    expect(t[0].sincePreviousMs).toBeUndefined();
    expect([duration(850), duration(4200), duration(65_000), duration(7_800_000)]).toEqual(['850 ms', '4.2 s', '1 min 5 s', '2 h 10 min']);
    const html = renderStudyPage({ studyInstanceUID: '1.2.3', jobs: [job], job, journey, done: `Re-run queued as job #8 ${HOSTILE}` });
    expect(html).toContain('Series selected</b> in 1.2 s');
    expect(html).toContain('+3 min 7 s');
    expect(html).not.toMatch(/\{"|<script>alert/);
    // The study's page: its pictures, loaded lazily, the findings, the re-run button, the confirmation.
    expect(html).toContain('<img loading="lazy" width="200" height="200" alt="lesion 1 key slice" src="/dashboard/jobs/7/lesions/1.png">');
    expect(html).toContain('21.3 × 14.2 mm');
    expect(html).toContain('action="/dashboard/studies/1.2.3/rerun"');
    expect(html).toContain('Re-run queued as job #8 &lt;script&gt;');
  });

  test('the overview counts by state, studies per hour and failures by reason, over a real store; no pictures, no page reload', async () => {
    const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 1, backoff: { baseSeconds: 1, maxSeconds: 1 } });
    const HOUR = 3600_000, now = 100 * HOUR;
    const finish = async (uid: string, at: number, result: JobCompletion) => {
      await store.enqueue({ studyInstanceUID: uid, source: 'changes' }, at);
      const j = (await store.claim('w', 1000, { now: at }))!;
      await store.complete(j.id, 'w', result, at);
    };
    const ok: JobCompletion = { kind: 'succeeded', outputs: {}, lesions: [], timingsMs: {}, idempotencyKey: 'k', seriesInstanceUID: 's', modelVersion: 'm' };
    await finish('1.1', now - HOUR / 2, ok);
    await finish('1.2', now - 3 * HOUR, ok);
    await finish('1.3', now - 12 * HOUR, ok);
    await finish('1.4', now - 2 * HOUR, { kind: 'failed', reason: 'pacs-unreachable', message: 'down', transient: true });
    await finish('1.5', now - 30 * HOUR, { kind: 'failed', reason: 'bad-dicom', message: 'broken', transient: false });
    const d = await overviewData(store, now);
    await store.close();
    expect(d.throughput).toEqual([{ hours: 1, succeeded: 1, perHour: 1 }, { hours: 6, succeeded: 2, perHour: 2 / 6 }, { hours: 24, succeeded: 3, perHour: 3 / 24 }]);
    expect(d.failures).toEqual([{ state: 'dead', reason: 'pacs-unreachable', count: 1 }]);
    expect(d.dead).toEqual([{ state: 'dead', reason: 'pacs-unreachable', count: 1 }]);
    expect(d.counts).toMatchObject({ succeeded: 3, dead: 1, failed: 1 });
    const html = renderOverview({ ...d, nodes: [], done: 'done <b>' });
    expect(html).toContain('<b data-count="succeeded">3</b>');
    expect(html).toContain('action="/dashboard/redrive?reason=pacs-unreachable"');
    expect(html).toContain('action="/dashboard/redrive"');
    expect(html).toContain('done &lt;b&gt;');
    expect(html).not.toMatch(/<img|http-equiv="refresh"/);
  });

  test('harvest: runs from the store, the dataset\'s figures and picture links; nothing outside pictures/ is served', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-harvest-view-'));
    try {
      fs.mkdirSync(path.join(dir, 'runs'));
      fs.mkdirSync(path.join(dir, 'studies'));
      fs.writeFileSync(path.join(dir, 'runs', 'r1.json'), JSON.stringify({
        runId: 'r1', startedAt: '2024-01-05T02:00:00Z', status: 'complete', counts: { studies: 4, harvested: 7, hardNegatives: 2 },
      }));
      fs.writeFileSync(path.join(dir, 'studies', '1.2.9.json'), JSON.stringify({
        studyInstanceUID: '1.2.9', harvestedAt: '2024-01-05T02:10:00Z',
        harvested: [{ id: 2, score: 0.99, picture: 'pictures/1.2.9/lesion-2.png' }, { id: 3, score: 0.98, picture: '../../etc/passwd' }],
      }));
      fs.writeFileSync(path.join(dir, 'studies', 'broken.json'), '{');
      const view = (await readHarvestDataset(dir))!;
      expect(view.runs.map((r) => r.counts.harvested)).toEqual([7]);
      expect(view.studies).toEqual([{ studyInstanceUID: '1.2.9', harvestedAt: '2024-01-05T02:10:00Z', pictures: [{ id: 2, score: 0.99, url: '/dashboard/harvest/pictures/1.2.9/lesion-2.png' }] }]);
      expect(view.unreadable).toBe(1);
      const html = renderHarvest({ runs: [{ job: { ...job, kind: 'harvest-run', studyInstanceUID: undefined, state: 'running' }, journey: [
        { id: 1, jobId: 7, at: 0, event: 'harvest-progress', details: { studiesDone: 1, studiesFound: 9 } },
        { id: 2, jobId: 7, at: 5, event: 'harvest-progress', details: { studiesDone: 3, studiesFound: 10, harvested: 5 } },
      ] }], dataset: view });
      expect(html).toContain('studiesDone <b>3</b> · studiesFound <b>10</b> · harvested <b>5</b>');
      expect(html).toContain('Run #7');
      expect(html).toContain('href="/dashboard/harvest/pictures/1.2.9/lesion-2.png"');
      expect(html).not.toContain('passwd');
      expect(await readHarvestDataset(path.join(dir, 'absent'))).toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(picturePath('/d', '1.2.9', 'lesion-2')).toBe(path.join('/d', 'pictures', '1.2.9', 'lesion-2.png'));
    for (const [study, name] of [['..', 'x'], ['.', 'x'], ['1.2', '../x'], ['a/b', 'x'], ['1.2', 'x.png']]) expect(picturePath('/d', study, name)).toBeUndefined();
    expect(pictureUrl('pictures/../x.png')).toBeUndefined();
  });
});

test('the study information comes from the chosen series\' first instance at selection, never into the journey', async () => {
  const series = { studyInstanceUID: '1.9', seriesInstanceUID: '1.9.1', modality: 'CT', seriesNumber: 2, seriesDescription: 'Chest 1 mm',
    instances: [{ sopInstanceUID: '1.9.1.1' }, { sopInstanceUID: '1.9.1.2' }] as InstanceHeader[] };
  const ds = { StudyDate: '20240105', StudyDescription: '  CT thorax  ', AccessionNumber: 'A'.repeat(20), Modality: 'CT' };
  expect(studyInfoOf(series, ds)).toEqual({
    studyDate: '20240105', studyDescription: 'CT thorax', modality: 'CT', accessionNumber: 'A'.repeat(16), seriesInstanceUID: '1.9.1', seriesNumber: 2,
    seriesDescription: 'Chest 1 mm', instances: 2,
  });
  expect(studyInfoOf(series, { StudyDate: '2024-01-05', StudyDescription: '' })).toEqual({ modality: 'CT', seriesInstanceUID: '1.9.1', seriesNumber: 2, seriesDescription: 'Chest 1 mm', instances: 2 });
  const stage = selectStage({
    modelVersion: 'm', rules: selectionSchema.parse({}), findSucceeded: async () => undefined,
    selectSeries: (all) => ({ selected: all[0], why: 'only one', rejected: [] }),
    source: { listSeries: async () => [{ seriesInstanceUID: '1.9.1', modality: 'CT' }], seriesMetadata: async () => ({ series, unreadable: [], dataset: async () => ds }) },
  });
  const selected = await stage.run({ studyInstanceUID: '1.9', force: false });
  expect(selected.study?.accessionNumber).toBe('A'.repeat(16));
  expect(JSON.stringify(stage.describe(selected))).not.toMatch(/AAAA|thorax/);
});

describe('dashboard over HTTP (real app, real SQLite store)', () => {
  let app: TestApp;
  const STUDY = '1.2.826.0.1.3680043.8.498.1';
  beforeAll(async () => {
    app = await startTestApp();
    const { store } = app;
    // A study analysed (its study information recorded at selection), then re-announced by our own SR/SEG.
    await store.enqueue({ studyInstanceUID: STUDY, source: 'changes' }, 1000);
    let j = (await store.claim('w', 60_000, { now: 1000 }))!;
    await store.recordStudy(j.id, 'w', info({ accessionNumber: 'ACC-77', studyDescription: 'CT thorax' }), 1100);
    await store.complete(j.id, 'w', { kind: 'succeeded', outputs: {}, lesions: job.lesions!, timingsMs: {}, idempotencyKey: 'k', seriesInstanceUID: '1.2.3.1', modelVersion: 'm' }, 2000);
    await store.enqueue({ studyInstanceUID: STUDY, source: 'changes' }, 3000);
    j = (await store.claim('w', 60_000, { now: 3000 }))!;
    await store.complete(j.id, 'w', { kind: 'skipped', reason: 'own-output', message: 'ours' }, 3100);
    await store.enqueue({ studyInstanceUID: '1.2.826.0.1.3680043.8.498.2', source: 'webhook' }, 4000);
  });
  afterAll(() => app.close());

  const get = (p: string, init?: RequestInit) => fetch(app.base + p, { redirect: 'manual', ...init });

  test('one row per study, searched and filtered; the study page; re-run and re-drive confirm what they did', async () => {
    const list = await (await get('/dashboard')).text();
    expect(list.match(/<tr class="study"/g)).toHaveLength(2);
    expect(list).toContain('+1 own-output');
    expect(list).toContain('CT thorax');
    expect(await (await get('/dashboard?q=acc-77')).text()).not.toContain('498.2"');
    expect((await (await get('/dashboard?q=acc-77')).text()).match(/<tr class="study"/g)).toHaveLength(1);
    expect((await (await get('/dashboard?state=queued')).text()).match(/data-study="([^"]+)"/g)).toEqual(['data-study="1.2.826.0.1.3680043.8.498.2"']);
    expect((await get('/dashboard?per=1000')).status).toBe(400);
    expect((await (await get('/api/studies?q=ACC-77')).json()).total).toBe(1);

    const studyPage = await (await get(`/dashboard/studies/${STUDY}`)).text();
    expect(studyPage).toContain('ACC-77');
    expect(studyPage).toContain('loading="lazy"');
    expect((await get('/dashboard/studies/not-a-uid')).status).toBe(400);
    expect((await get(`/dashboard/jobs/1`)).headers.get('location')).toBe(`/dashboard/studies/${STUDY}?job=1`);

    // From another site the browser's Origin gives it away: refused. From the dashboard: done, and said so.
    expect((await get(`/dashboard/studies/${STUDY}/rerun`, { method: 'POST', headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    const rerun = await get(`/dashboard/studies/${STUDY}/rerun`, { method: 'POST', headers: { Origin: app.base } });
    expect(rerun.status).toBe(303);
    const after = await (await get(rerun.headers.get('location')!)).text();
    expect(after).toMatch(/Re-run queued as job #4\./);
    expect((await app.store.get(4))).toMatchObject({ studyInstanceUID: STUDY, force: true, source: 'manual' });

    const redrive = await get('/dashboard/redrive?reason=pacs-unreachable', { method: 'POST', headers: { Origin: app.base } });
    expect(redrive.status).toBe(303);
    expect(await (await get(redrive.headers.get('location')!)).text()).toContain('0 dead jobs (pacs-unreachable) queued again.');
    // The confirmation is made of numbers and fixed words: a link from elsewhere cannot put its own text there.
    expect(await (await get('/dashboard/overview?redriven=Call%20555&reason=x')).text()).not.toContain('class="notice"');
    expect(await (await get(`/dashboard/studies/${STUDY}?job=4&queued=hacked`)).text()).not.toContain('class="notice"');
    expect((await get('/dashboard/redrive?reason=NOT%20A%20REASON', { method: 'POST', headers: { Origin: app.base } })).status).toBe(400);
    expect(await (await get('/dashboard/overview/counts')).json()).toMatchObject({ queued: 2, succeeded: 1, skipped: 1 });
    expect((await (await get('/dashboard/harvest')).text())).toContain('no harvest run yet');
  });
});
