/**
 * The service as a hospital runs it: Orthanc with the push script, `lens serve` as a child process. CT studies
 * arrive by C-STORE and are analysed with no manual step; SR and SEG appear once; our own outputs, non-CT,
 * scout-only and corrupt studies are recognised with reasons while later studies are still analysed; the
 * dashboard shows the lesions; the logs hold no patient name or ID.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { uploadFiles } from '../../helpers/orthanc';
import { api, copyStudy, jobsOf, newUid, REPO, seriesByModality, ServiceChild, SHARED_CT, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

const SRC = path.join(SHARED_CT, 'lung-dx-a0001/series3_5mm_kernelB');
const srcFiles = () => fs.readdirSync(SRC).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(SRC, f));

let stack: Stack;
let service: ServiceChild;
const patients: { name: string; id: string }[] = [];

async function sendStudy(
  name: string,
  o: { files?: string[]; modify?: string[]; damage?: (files: string[]) => void; /** upload by Orthanc's REST API instead of C-STORE */ rest?: boolean } = {},
): Promise<string> {
  const studyUID = newUid();
  const patient = { name: `PHANTOM^${name.toUpperCase()}${patients.length}`, id: `PHX${1000 + patients.length}` };
  patients.push(patient);
  const files = await copyStudy(o.files ?? srcFiles(), path.join(stack.dir, 'studies', name), {
    studyUID, seriesUID: newUid(), patientName: patient.name, patientID: patient.id, modify: o.modify,
  });
  o.damage?.(files);
  if (o.rest) await uploadFiles(stack.orthanc, files);
  else await storescu([path.dirname(files[0])], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  return studyUID;
}

/**
 * A slice that Orthanc accepts and stores but whose pixels cannot be decoded: re-encoded as RLE Lossless (dcmtk
 * dcmcrle), then its one fragment overwritten with garbage, the DICOM structure left intact. Returns its SOP UID.
 */
function corruptPixelData(file: string): string {
  const rle = `${file}.rle`;
  execFileSync('dcmcrle', [file, rle]);
  const buf = fs.readFileSync(rle);
  fs.rmSync(rle);
  // (7FE0,0010) OB of undefined length, then the Basic Offset Table item, then the frame's fragment item.
  const pixelData = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  let at = buf.lastIndexOf(pixelData);
  if (at < 0) throw new Error(`no encapsulated PixelData in ${rle}`);
  at += pixelData.length;
  const item = (o: number) => {
    if (buf.readUInt32LE(o) !== 0xe000fffe) throw new Error(`no item at byte ${o} of ${rle}`);
    return buf.readUInt32LE(o + 4);
  };
  at += 8 + item(at);
  buf.fill(0xab, at + 8, at + 8 + item(at));
  fs.writeFileSync(file, buf);
  const sop = /\[([0-9.]+)\]/.exec(execFileSync('dcmdump', ['-q', '+P', '0008,0018', file], { encoding: 'utf8' }))?.[1];
  if (!sop) throw new Error(`no SOPInstanceUID in ${file}`);
  return sop;
}

const finalJob = (s: Stack, uid: string, timeoutMs = 120000) =>
  waitFor(async () => (await jobsOf(s, uid)).find((j) => ['succeeded', 'skipped', 'failed', 'dead'].includes(j.state)), timeoutMs, `a final job for ${uid}`);

const suite = useServiceStack({ push: true, stableAge: 1 });
beforeAll(() => {
  ({ stack, service } = suite);
});

let analysed: Job;
let analysedStudy: string;

test('a CT sent by C-STORE is analysed by the push; SR and SEG appear once; our own outputs are recognised', async () => {
  analysedStudy = await sendStudy('first');
  analysed = await finalJob(stack, analysedStudy);
  expect(analysed).toMatchObject({ state: 'succeeded', source: 'webhook' });
  // Writing the SR/SEG re-announces the study; that job must be skipped as our own output.
  const again = await waitFor(async () => (await jobsOf(stack, analysedStudy)).find((j) => j.id !== analysed.id && j.state === 'skipped'), 60000, 'the own-output job');
  expect(again.reason).toBe('own-output');
  const series = await seriesByModality(stack, analysedStudy);
  expect(series.SR).toEqual([{ uid: analysed.outputs!.srSeriesUID, instances: 1 }]);
  // The shipped model finds the lung tumour of lung-dx-a0001 (test/integration/detect), so there is a SEG.
  expect(analysed.lesionCount).toBeGreaterThan(0);
  expect(series.SEG).toEqual([{ uid: analysed.outputs!.segSeriesUID, instances: 1 }]);
  const { journey } = await api(stack, `/api/jobs/${analysed.id}`);
  expect(journey.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['received', 'claimed', 'selected', 'fetched', 'detected', 'built', 'stored']));
  const succeeded = (await jobsOf(stack, analysedStudy)).filter((j) => j.state === 'succeeded');
  expect(succeeded).toHaveLength(1);
}, 240000);

test('non-CT, scout-only and corrupt studies get clear reasons; a later CT is still analysed', async () => {
  const files = srcFiles();
  const mr = await sendStudy('mr', { files: files.slice(0, 25), modify: ['(0008,0060)=MR'] });
  const scout = await sendStudy('scout', { files: files.slice(0, 2), modify: ['(0008,0008)=ORIGINAL\\PRIMARY\\LOCALIZER'] });
  let corruptSop = '';
  // By REST: storescu proposes only uncompressed syntaxes and cannot decompress the damaged slice to send it.
  // 40 slices: enough for a series (minSlices 20) around the damaged slice 30, fewer REST uploads than 64.
  const corrupt = await sendStudy('corrupt', { files: files.slice(0, 40), rest: true, damage: (fl) => (corruptSop = corruptPixelData(fl[30])) });
  // The later CT only has to be analysed: a small synthetic study (made anonymous like the others by sendStudy).
  const later = await sendStudy('later', { files: (await synthStudy(9501, path.join(stack.dir, 'later-src'), { size: 128, slices: 32 })).files });
  const [mrJob, scoutJob, corruptJob, laterJob] = await Promise.all([mr, scout, corrupt, later].map((u) => finalJob(stack, u, 180000)));
  expect(mrJob).toMatchObject({ state: 'skipped', reason: 'no-ct' });
  expect(mrJob.lastError).toMatch(/MR/);
  expect(scoutJob).toMatchObject({ state: 'skipped', reason: 'no-suitable-series' });
  expect(scoutJob.lastError).toMatch(/LOCALIZER|localizer|scout/i);
  // Permanent at once: retrying would decode the same bytes again.
  expect(corruptJob).toMatchObject({ state: 'failed', reason: 'undecodable', attempts: 1 });
  expect(corruptJob.lastError).toContain(corruptSop);
  expect(corruptJob.lastError).toMatch(/cannot decode pixel data .*RLE/);
  expect(laterJob.state).toBe('succeeded');
}, 400000);

test('the dashboard shows the processed study with its lesion pictures (headless Chromium)', async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${stack.serviceUrl}/dashboard/jobs/${analysed.id}`);
    await page.waitForLoadState('networkidle');
    expect(await page.textContent('h2')).toContain(`Job #${analysed.id}`);
    expect(await page.textContent('body')).toContain(analysedStudy);
    const figures = await page.$$('figure.lesion img');
    expect(figures.length).toBeGreaterThan(0);
    expect(figures.length).toBe(analysed.lesionCount);
    // The pictures load lazily: each is brought into view, as a user scrolling the page would, and must then load.
    for (const img of figures) {
      await img.scrollIntoViewIfNeeded();
      const width = await img.evaluate(
        (el) =>
          new Promise<number>((resolve) => {
            const i = el as HTMLImageElement;
            if (i.complete) return resolve(i.naturalWidth);
            i.addEventListener('load', () => resolve(i.naturalWidth));
            i.addEventListener('error', () => resolve(0));
          }),
      );
      expect(width).toBeGreaterThan(0);
    }
    fs.mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(REPO, 'test-artifacts/service-dashboard-job.png'), fullPage: true });
    await page.goto(`${stack.serviceUrl}/dashboard`);
    expect(await page.$$('tr.study')).not.toHaveLength(0);
    await page.screenshot({ path: path.join(REPO, 'test-artifacts/service-dashboard.png'), fullPage: true });
  } finally {
    await browser.close();
  }
}, 120000);

test('/metrics and /readyz report the service; the logs hold no patient name or ID', async () => {
  const metrics = await api<string>(stack, '/metrics');
  expect(metrics).toMatch(/lens_jobs\{state="succeeded"\} [1-9]/);
  expect(metrics).toMatch(/lens_event_to_report_seconds_count [1-9]/);
  const ready = await api(stack, '/readyz');
  expect(ready.ok).toBe(true);
  const unauthorised = await fetch(`${stack.serviceUrl}/webhook/orthanc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"studyInstanceUID":"1.2.3"}' });
  expect(unauthorised.status).toBe(401);
  const out = service.output();
  expect(out).toContain(analysedStudy); // the log does name studies by UID
  for (const p of patients) {
    expect(out).not.toContain(p.name);
    expect(out).not.toContain(p.name.replace('^', ' '));
    expect(out).not.toContain(p.id);
  }
}, 60000);
