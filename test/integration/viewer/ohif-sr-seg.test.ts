/**
 * OHIF Viewer v3 in headless Chromium shows what we store: every SR measurement group drawn over its key CT slice
 * (SR viewport) and listed in the measurement panel once the SR is hydrated; the SEG's segments listed.
 * Screenshots go to test-artifacts/viewer/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { useOrthanc, uploadFiles } from '../../helpers/orthanc';
import { ohifAvailable, startOhif, type OhifServer, OHIF_DIST } from '../../helpers/ohif-server';
import { launchChromium, ohifContext, pollUntil, CHROMIUM } from '../../helpers/ohif-browser';
import { buildReportObjects, lesionLabel, lesionSummary } from '../../../src/report';
import { scanDicomFolder } from '../../../src/dicom/load-folder';
import { LUNG_SERIES3, loadLungCaseWithExtras } from '../report/fixtures';

const ARTIFACTS = path.resolve(__dirname, '../../../test-artifacts/viewer');
const EXTRA_LESIONS = 2;
const VIEWPORT = '[data-cy="viewport-pane"]';

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

const thumbnail = (page: Page, seriesNumber: number) => page.locator(`[data-cy^="study-browser-thumbnail"][data-series="${seriesNumber}"]`);

/** The instance number the viewport shows ("I:18 (18/64)" in its bottom-right overlay). */
async function shownInstance(page: Page): Promise<number> {
  const overlay = await page.locator('[data-cy="viewport-overlay-bottom-right"]').innerText();
  return Number(/I:\s*(\d+)/.exec(overlay)?.[1]);
}

const annotationUids = (page: Page) =>
  page.locator(`${VIEWPORT} svg g[data-annotation-uid]`).evaluateAll((gs) => gs.map((g) => g.getAttribute('data-annotation-uid')!));

/** Opens the study and double-clicks the SR's thumbnail; resolves once OHIF's SR viewport drew a finding. */
async function openSr(page: Page): Promise<void> {
  await thumbnail(page, 9001).waitFor({ timeout: 90000 });
  await page.locator(`${VIEWPORT} canvas`).first().waitFor({ timeout: 90000 });
  await thumbnail(page, 9001).dblclick();
  await page.locator(`${VIEWPORT} svg g[data-annotation-uid]`).first().waitFor({ timeout: 60000 });
}

test('SR findings are drawn on their key slices and listed in the measurement panel; SEG segments are listed', async () => {
  const { volume, sourceDataset, findings } = await loadLungCaseWithExtras(EXTRA_LESIONS);
  await uploadFiles(pacs(), fs.readdirSync(LUNG_SERIES3).map((f) => path.join(LUNG_SERIES3, f)));
  for (const o of buildReportObjects({ findings, volume, sourceDataset })) {
    const r = await fetch(`${pacs().url}/instances`, { method: 'POST', body: new Uint8Array(o.part10) });
    expect(r.ok).toBe(true);
  }
  const scan = await scanDicomFolder(LUNG_SERIES3);
  const instanceNumbers = new Map(scan.series.flatMap((s) => s.instances.map((i) => [i.sopInstanceUID, i.instanceNumber] as const)));
  const keyInstance = (l: (typeof findings.lesions)[number]) => instanceNumbers.get(l.keySlice.sopInstanceUID);

  const context = await ohifContext(browser);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${ohif.url}/viewer?StudyInstanceUIDs=${volume.studyInstanceUID}`);
    await openSr(page);
    await shot(page, '1-sr-loaded');

    // 1. The SR viewport: its arrows step through the findings; OHIF jumps to each finding's slice and draws it
    // there, the SVG group carrying the Tracking Unique Identifier. (Stepping dismisses the tracking prompt.)
    const drawnOn = new Map<string, Set<number>>();
    const next = page.locator(`${VIEWPORT} div.cursor-pointer`).filter({ has: page.locator('svg.rotate-180') }).first();
    for (let step = 0; step <= findings.lesions.length; step++) {
      await page.waitForTimeout(1500);
      const instance = await shownInstance(page);
      const boxes = await page.locator(`${VIEWPORT} svg polyline`).count();
      for (const uid of await annotationUids(page)) if (boxes > 0) drawnOn.set(uid, (drawnOn.get(uid) ?? new Set()).add(instance));
      await shot(page, `2-sr-step-${step + 1}`);
      await next.click();
    }
    fs.writeFileSync(path.join(ARTIFACTS, 'sr-drawn.json'), JSON.stringify([...drawnOn].map(([uid, s]) => ({ uid, instances: [...s] })), null, 2));
    for (const l of findings.lesions) {
      expect({ lesion: l.id, drawnOnInstances: [...(drawnOn.get(l.trackingUid) ?? [])] }).toEqual({ lesion: l.id, drawnOnInstances: [keyInstance(l)] });
    }

    // 2. Tracking: open the SR afresh and accept OHIF's offer to track its measurements; OHIF hydrates every group
    // into an editable rectangle and lists it in the measurement panel under its Comment.
    await page.reload();
    await openSr(page);
    await page.getByText('Do you want to continue tracking measurements for this study?').waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: 'Yes' }).click();
    await page.locator('[data-cy="trackedMeasurements-btn"]').click();
    const header = await pollUntil(
      () => page.getByText(/^Measurements \(\d+\)$/).first().innerText().catch(() => ''),
      (t) => t === `Measurements (${findings.lesions.length})`,
      60000,
    );
    await shot(page, '3-measurement-panel');
    expect(header).toBe(`Measurements (${findings.lesions.length})`);
    const rows = page.locator('[data-cy="data-row"]');
    const rowTexts = await Promise.all((await rows.all()).map((r) => r.locator('xpath=..').innerText()));
    fs.writeFileSync(path.join(ARTIFACTS, 'measurement-panel.json'), JSON.stringify(rowTexts, null, 2));
    expect(rowTexts).toHaveLength(findings.lesions.length);
    for (const l of findings.lesions) {
      // Each lesion is one row: its label with long x short axis, on the instance of its key slice.
      const matching = rowTexts.filter((t) => t.includes(lesionSummary(l)));
      expect({ lesion: l.id, rows: matching.length, keySlice: matching.map((t) => Number(/I:\s*(\d+)/.exec(t)?.[1])) }).toEqual({
        lesion: l.id,
        rows: 1,
        keySlice: [keyInstance(l)],
      });
    }
    // Clicking a row jumps to that slice, where the hydrated rectangle is drawn.
    for (const [i, l] of findings.lesions.entries()) {
      const row = rows.filter({ hasText: lesionSummary(l) });
      await row.click();
      const instance = await pollUntil(() => shownInstance(page), (n) => n === keyInstance(l), 20000);
      const drawn = await pollUntil(() => annotationUids(page), (u) => u.length > 0, 20000);
      await shot(page, `4-tracked-${i + 1}`);
      expect({ lesion: l.id, instance, drawn: drawn.length > 0 }).toEqual({ lesion: l.id, instance: keyInstance(l), drawn: true });
    }

    // 3. The SEG: load it and list its segments.
    await thumbnail(page, 9002).dblclick();
    await page.getByRole('button', { name: 'Yes' }).click({ timeout: 60000 });
    await page.locator('[data-cy="panelSegmentation-btn"]').click();
    // Exact text: the segment label, not the measurement rows' "<label>: <long> x <short> mm".
    for (const l of findings.lesions) await page.getByText(lesionLabel(l), { exact: true }).first().waitFor({ timeout: 60000 });
    await shot(page, '5-seg-loaded');
    fs.writeFileSync(path.join(ARTIFACTS, 'page.html'), await page.content());
    expect(errors.filter((e) => !/ResizeObserver/.test(e))).toEqual([]);
  } finally {
    fs.writeFileSync(path.join(ARTIFACTS, 'last-page.html'), await page.content().catch(() => ''));
    await shot(page, 'last').catch(() => undefined);
    await context.close();
  }
}, 300000);
