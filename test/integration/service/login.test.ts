/**
 * Secure by default, with the real `lens serve` (child process) and a real Orthanc: beyond loopback without a token
 * the service refuses to start (before it listens: only loopback is ever bound here); with a token, the API and the
 * dashboard refuse the unauthenticated, and a login in headless Chromium opens the dashboard (screenshot checked).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PNG } from 'pngjs';
import { launchChromium } from '../../helpers/ohif-browser';
import { newUid, REPO, useServiceStack } from './stack';

const TOKEN = 'login-test-token-0123456789';
const ARTIFACTS = path.join(REPO, 'test-artifacts');
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

test('a login in headless Chromium opens the dashboard; the session cookie is out of reach of scripts; logout ends it', async () => {
  const { stack } = suite;
  // One job to show: a re-run through the API (the study is not in the PACS: skipped, with the reason).
  const study = newUid();
  expect((await fetch(`${stack.serviceUrl}/api/studies/${study}/rerun`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    await page.goto(`${stack.serviceUrl}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error');
    expect(new URL(page.url()).pathname).toBe('/login');

    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(`${stack.serviceUrl}/dashboard`), page.click('button[type=submit]')]);
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.textContent('h1')).toContain('lens-pacs');
    const row = page.locator(`tr.job:has-text("${study}")`);
    await row.waitFor();
    expect(await page.evaluate(() => document.cookie)).not.toContain('lens_session');
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({ name: 'lens_session', httpOnly: true, sameSite: 'Strict' });

    // The screenshot shows the table: dark text in the job row and the state badge's colour where the badge is.
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = PNG.sync.read(await page.screenshot({ path: path.join(ARTIFACTS, 'service-login-dashboard.png') }));
    const badge = row.locator('.state');
    const box = (await badge.boundingBox())!;
    const colour = await badge.evaluate((el) => getComputedStyle(el).backgroundColor);
    const [r, g, b] = colour.match(/\d+/g)!.map(Number);
    let badgePixels = 0;
    for (let y = Math.ceil(box.y); y < box.y + box.height; y++)
      for (let x = Math.ceil(box.x); x < box.x + box.width; x++) {
        const i = (y * shot.width + x) * 4;
        if (Math.abs(shot.data[i] - r) + Math.abs(shot.data[i + 1] - g) + Math.abs(shot.data[i + 2] - b) < 12) badgePixels++;
      }
    expect(badgePixels).toBeGreaterThan((box.width * box.height) / 4);
    const rowBox = (await row.boundingBox())!;
    let dark = 0;
    for (let y = Math.ceil(rowBox.y); y < Math.min(shot.height, rowBox.y + rowBox.height); y++)
      for (let x = 0; x < shot.width; x++) {
        const i = (y * shot.width + x) * 4;
        if (shot.data[i] + shot.data[i + 1] + shot.data[i + 2] < 200) dark++;
      }
    expect(dark).toBeGreaterThan(200);

    await Promise.all([page.waitForURL(`${stack.serviceUrl}/login`), page.click('button.logout')]);
    await page.goto(`${stack.serviceUrl}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/login');
  } finally {
    await browser.close();
  }
}, 90000);
