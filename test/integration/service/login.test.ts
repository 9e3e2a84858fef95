/**
 * Secure by default, with the real `lens serve` (child process) and a real Orthanc: beyond loopback without a token
 * the service refuses to start (before it listens: only loopback is ever bound here); with a token, the API and the
 * dashboard refuse the unauthenticated, and a login in headless Chromium opens the dashboard: two small synthetic
 * studies listed by date, description and accession number, filtered, a study's timeline and lazily loaded key
 * slice, a re-run from its page (screenshots checked, kept in a temp folder).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { launchChromium } from '../../helpers/ohif-browser';
import type { Job } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { api, newUid, REPO, synthStudy, useServiceStack, waitFor } from './stack';

const TOKEN = 'login-test-token-0123456789';
const suite = useServiceStack({ push: false, config: { server: { apiToken: TOKEN } } });

const lens = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(process.execPath, [path.join(REPO, 'bin/lens.js'), ...args], { env: { ...process.env, LENS_LOG_LEVEL: 'error' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout + stderr }),
    ),
  );

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

test('on a non-loopback address without server.apiToken, `lens serve` refuses to start and listens nowhere', async () => {
  const { stack } = suite;
  const raw = JSON.parse(fs.readFileSync(stack.configFile, 'utf8'));
  const port = raw.server.port + 1;
  // 0.0.0.0 is only named in the config: the refusal comes before anything listens.
  const file = path.join(stack.dir, 'open.json');
  fs.writeFileSync(file, JSON.stringify({ ...raw, server: { host: '0.0.0.0', port } }));
  const { code, out } = await lens(['-c', file, 'serve']);
  expect(code).not.toBe(0);
  expect(out).toMatch(/server\.host 0\.0\.0\.0 is not a loopback address: set server\.apiToken/);
  expect(await listening(port)).toBe(false);
}, 60000);

test('with a token: the API answers 401 and the dashboard redirects to the login page without it', async () => {
  const { stack } = suite;
  for (const p of ['/api/jobs', '/metrics', '/readyz']) expect((await fetch(stack.serviceUrl + p)).status).toBe(401);
  const dash = await fetch(`${stack.serviceUrl}/dashboard`, { redirect: 'manual' });
  expect(dash.status).toBe(303);
  expect(dash.headers.get('location')).toBe('/login?next=%2Fdashboard');
  expect((await fetch(`${stack.serviceUrl}/api/jobs`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
}, 30000);

/** Pixels in `box` of the screenshot darker than a light background: text, badges or image. */
function darkPixels(shot: PNG, box: { x: number; y: number; width: number; height: number }): number {
  let dark = 0;
  for (let y = Math.max(0, Math.ceil(box.y)); y < Math.min(shot.height, box.y + box.height); y++)
    for (let x = Math.max(0, Math.ceil(box.x)); x < Math.min(shot.width, box.x + box.width); x++) {
      const i = (y * shot.width + x) * 4;
      if (shot.data[i] + shot.data[i + 1] + shot.data[i + 2] < 300) dark++;
    }
  return dark;
}

test('the dashboard in headless Chromium: login, studies by date/description/accession, filter, a study\'s timeline and lazy picture, re-run, logout', async () => {
  const { stack, service } = suite;
  const auth = { Authorization: `Bearer ${TOKEN}` };
  // Two small synthetic studies sent as a scanner would, and one re-run of a study the PACS does not hold (skipped).
  const sent: { studyUID: string; dir: string; accession: string }[] = [];
  // Seeds whose phantom the shipped model finds lesions in (a study without findings has no picture to load).
  for (const seed of [9504, 9502]) {
    const s = await synthStudy(seed, path.join(stack.dir, `synth-${seed}`), { size: 128, slices: 24, studyDate: '20240105' });
    await storescu([s.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
    sent.push({ studyUID: s.studyUID, dir: s.dir, accession: `SYN${seed}` });
  }
  const absent = newUid();
  expect((await fetch(`${stack.serviceUrl}/api/studies/${absent}/rerun`, { method: 'POST', headers: auth })).status).toBe(202);
  const jobs = (uid: string) => api<{ jobs: Job[] }>(stack, `/api/jobs?study=${uid}`, { headers: auth }).then((r) => r.jobs);
  // Each analysed study is then re-announced by our own SR/SEG: that skip must fold into its row.
  for (const s of sent)
    await waitFor(async () => {
      const js = await jobs(s.studyUID);
      return js.some((j) => j.state === 'succeeded' && j.lesions?.length) && js.some((j) => j.reason === 'own-output');
    }, 90000, `analysis and own-output event of ${s.accession}`);
  await waitFor(async () => (await jobs(absent)).some((j) => j.state === 'skipped'), 30000, 'the skipped re-run');

  // Screenshots stay in a temp folder for a look after the run.
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-dashboard-shots-'));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await page.goto(`${stack.serviceUrl}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error');
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${stack.serviceUrl}/dashboard`), page.click('button[type=submit]')]);
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate(() => document.cookie)).not.toContain('lens_session');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'lens_session', httpOnly: true, sameSite: 'Strict' });

    // One row per study (the own-output skips folded in), each with its date, description and accession number.
    for (const s of sent) {
      const row = page.locator(`tr.study[data-study="${s.studyUID}"]`);
      await expect(row.count()).resolves.toBe(1);
      expect(await row.locator('td.date').textContent()).toBe('2024-01-05');
      expect(await row.locator('td.description a').textContent()).toMatch(/^CT Chest.* \(synthetic phantom\)$/);
      expect(await row.locator('td.accession').textContent()).toBe(s.accession);
      expect(await row.textContent()).toContain('own-output');
    }
    expect(await page.locator('img').count()).toBe(0);
    const listShot = PNG.sync.read(await page.screenshot({ path: path.join(shots, 'dashboard-studies.png') }));
    expect(darkPixels(listShot, (await page.locator('table.studies').boundingBox())!)).toBeGreaterThan(2000);

    // Search by accession number, then filter by state.
    await page.fill('#q', sent[1].accession.toLowerCase());
    await Promise.all([page.waitForURL(/q=syn9502/), page.click('form.filter button[type=submit]')]);
    expect(await page.locator('tr.study').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-study')))).toEqual([sent[1].studyUID]);
    await page.fill('#q', '');
    await page.selectOption('#state', 'skipped');
    await Promise.all([page.waitForURL(/state=skipped/), page.click('form.filter button[type=submit]')]);
    expect(await page.locator('tr.study').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-study')))).toEqual([absent]);

    // A study's page: the timeline in words with durations, the findings, the key slices loaded as they come into view.
    await page.goto(`${stack.serviceUrl}/dashboard?q=${sent[0].accession}`);
    await Promise.all([page.waitForURL(/\/dashboard\/studies\//), page.click(`tr.study[data-study="${sent[0].studyUID}"] td.description a`)]);
    const events = await page.locator('ol.timeline li').allTextContents();
    expect(events.join('\n')).toMatch(/Series selected in [\d.]+ (ms|s)/);
    expect(events.join('\n')).toMatch(/SR and SEG stored in the PACS in/);
    expect(await page.locator('ol.timeline').textContent()).not.toContain('{');
    const img = page.locator('figure.lesion img').first();
    expect(await img.getAttribute('loading')).toBe('lazy');
    await img.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const i = document.querySelector('figure.lesion img') as HTMLImageElement | null;
      return !!i && i.complete && i.naturalWidth > 0;
    });
    const studyShot = PNG.sync.read(await page.screenshot({ path: path.join(shots, 'dashboard-study.png') }));
    // The key slice is a CT image: many grey levels where the picture is, not a blank box.
    const box = (await img.boundingBox())!;
    const greys = new Set<number>();
    for (let y = Math.ceil(box.y); y < Math.min(studyShot.height, box.y + box.height); y += 2)
      for (let x = Math.ceil(box.x); x < box.x + box.width; x += 2) greys.add(studyShot.data[(y * studyShot.width + x) * 4]);
    expect(greys.size).toBeGreaterThan(30);

    // Re-run from the page: it says what it queued, and the job runs.
    await Promise.all([page.waitForURL(/queued=new/), page.click('button.rerun')]);
    const notice = await page.locator('.notice').textContent();
    const rerunId = Number(/Re-run queued as job #(\d+)/.exec(notice ?? '')?.[1]);
    expect(rerunId).toBeGreaterThan(0);
    await waitFor(async () => (await jobs(sent[0].studyUID)).find((j) => j.id === rerunId && j.state === 'succeeded'), 60000, 'the re-run');
    await page.screenshot({ path: path.join(shots, 'dashboard-rerun.png') });

    // The overview: counts, throughput and the nodes, without a single picture; the harvest page answers.
    await page.click('nav a[href="/dashboard/overview"]');
    await page.waitForURL(/\/dashboard\/overview$/);
    expect(Number(await page.locator('[data-count="succeeded"]').textContent())).toBeGreaterThanOrEqual(3);
    expect(await page.locator('tr.throughput[data-hours="1"] td.num').first().textContent()).toMatch(/^[3-9]$/);
    expect(await page.locator('img').count()).toBe(0);
    const overviewShot = PNG.sync.read(await page.screenshot({ path: path.join(shots, 'dashboard-overview.png') }));
    expect(darkPixels(overviewShot, (await page.locator('div.cards').boundingBox())!)).toBeGreaterThan(500);
    await page.click('nav a[href="/dashboard/harvest"]');
    await page.waitForURL(/\/dashboard\/harvest$/);
    expect(await page.locator('h1').textContent()).toBe('lens-pacs: harvest');

    await Promise.all([page.waitForURL(`${stack.serviceUrl}/login`), page.click('button.logout')]);
    await page.goto(`${stack.serviceUrl}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/login');
  } finally {
    await browser.close();
  }
  // What the dashboard shows of a study is never logged.
  const logs = service.output();
  for (const s of sent) expect(logs).not.toContain(s.accession);
  expect(logs).not.toContain('synthetic phantom');
}, 240000);
