/** Debian's Chromium driven by playwright-core (never a downloaded browser), set up for OHIF. */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** A context whose pages never show OHIF's onboarding tour. */
export async function ohifContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  await context.addInitScript(() => {
    window.localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']));
  });
  return context;
}

/** Polls `read` until `ok` holds (the viewer loads asynchronously); returns the last value read either way. */
export async function pollUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, intervalMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, intervalMs));
    v = await read();
  }
  return v;
}
