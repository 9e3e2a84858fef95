/**
 * OHIF Viewer v3 in headless Chromium shows what we store: every SR measurement group listed and drawn over its
 * key CT slice, the SEG's segments listed. Screenshots go to test-artifacts/viewer/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { useOrthanc, uploadFiles } from '../../helpers/orthanc';
import { ohifAvailable, startOhif, type OhifServer, OHIF_DIST } from '../../helpers/ohif-server';
import { launchChromium, ohifContext, CHROMIUM } from '../../helpers/ohif-browser';
import { buildReportObjects } from '../../../src/report';
import { scanDicomFolder } from '../../../src/dicom/load-folder';
import { LUNG_SERIES3, loadLungCaseWithExtras } from '../report/fixtures';

const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts/viewer');
const EXTRA_LESIONS = 2;

if (!ohifAvailable()) throw new Error(`OHIF Viewer missing in ${OHIF_DIST}: run scripts/setup-ohif.sh (npm run setup)`);
if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: install Debian's chromium (npm run setup)`);

const pacs = useOrthanc();
let ohif: OhifServer;
let browser: Browser;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  ohif = await startOhif(pacs().url);
  browser = await launchChromium();
}, 60000);
afterAll(async () => {
  await browser?.close();
  await ohif?.close();
});

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

test('SR measurement groups are listed and drawn; SEG segments are listed', async () => {
  const { volume, sourceDataset, findings } = await loadLungCaseWithExtras(EXTRA_LESIONS);
  await uploadFiles(pacs(), fs.readdirSync(LUNG_SERIES3).map((f) => path.join(LUNG_SERIES3, f)));
  for (const o of buildReportObjects({ findings, volume, sourceDataset })) {
    const r = await fetch(`${pacs().url}/instances`, { method: 'POST', body: new Uint8Array(o.part10) });
    expect(r.ok).toBe(true);
  }
  const labels = findings.lesions.map((l) => `Lesion ${l.id}`);
  const scan = await scanDicomFolder(LUNG_SERIES3);
  const instanceNumbers = new Map(scan.series.flatMap((s) => s.instances.map((i) => [i.sopInstanceUID, i.instanceNumber] as const)));

  const context = await ohifContext(browser);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${ohif.url}/viewer?StudyInstanceUIDs=${volume.studyInstanceUID}`);
    const srItem = page.locator('[data-cy^="study-browser-thumbnail"][data-series="9001"]');
    const segItem = page.locator('[data-cy^="study-browser-thumbnail"][data-series="9002"]');
    await srItem.waitFor({ timeout: 90000 });
    await page.locator('[data-cy="viewport-pane"] canvas').first().waitFor({ timeout: 90000 });
    await shot(page, '1-study');

    // Load the SR and accept tracking its measurements.
    await srItem.dblclick();
    await page.getByRole('button', { name: 'Yes' }).click({ timeout: 60000 });
    await page.locator('[data-cy="viewport-pane"] svg g[data-annotation-uid]').first().waitFor({ timeout: 60000 });
    await shot(page, '2-sr-loaded');

    // Step through the SR's findings with the viewport's arrow: OHIF jumps to each finding's slice and draws it
    // there; the SVG group carries the Tracking Unique Identifier. Record on which instance each one was drawn.
    const drawnOn = new Map<string, Set<number>>();
    const next = page.locator('[data-cy="viewport-pane"] div.cursor-pointer').filter({ has: page.locator('svg.rotate-180') }).first();
    for (let step = 0; step <= findings.lesions.length; step++) {
      await page.waitForTimeout(1500);
      const overlay = await page.locator('[data-cy="viewport-overlay-bottom-right"]').innerText();
      const instance = Number(/I:\s*(\d+)/.exec(overlay)?.[1]);
      const polylines = await page.locator('[data-cy="viewport-pane"] svg polyline').count();
      for (const uid of await page.locator('[data-cy="viewport-pane"] svg g[data-annotation-uid]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-annotation-uid')!))) {
        if (polylines > 0) drawnOn.set(uid, (drawnOn.get(uid) ?? new Set()).add(instance));
      }
      await shot(page, `3-sr-step-${step + 1}`);
      await next.click();
    }
    fs.writeFileSync(path.join(ARTIFACTS, 'sr-drawn.json'), JSON.stringify([...drawnOn].map(([uid, s]) => ({ uid, instances: [...s] })), null, 2));
    for (const l of findings.lesions) {
      expect({ lesion: l.id, drawnOnInstances: [...(drawnOn.get(l.trackingUid) ?? [])] }).toEqual({ lesion: l.id, drawnOnInstances: [instanceNumbers.get(l.keySlice.sopInstanceUID)] });
    }

    // Load the SEG and list its segments.
    await segItem.dblclick();
    await page.getByRole('button', { name: 'Yes' }).click({ timeout: 60000 });
    await page.locator('[data-cy="panelSegmentation-btn"]').click();
    for (const label of labels) await page.getByText(label, { exact: false }).first().waitFor({ timeout: 60000 });
    await shot(page, '4-seg-loaded');
    fs.writeFileSync(path.join(ARTIFACTS, 'page.html'), await page.content());
    expect(errors.filter((e) => !/ResizeObserver/.test(e))).toEqual([]);
  } finally {
    fs.writeFileSync(path.join(ARTIFACTS, 'last-page.html'), await page.content().catch(() => ''));
    await shot(page, 'last').catch(() => undefined);
    await context.close();
  }
}, 300000);
