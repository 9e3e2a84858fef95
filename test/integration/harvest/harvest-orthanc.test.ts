/**
 * `lens harvest` against a real Orthanc holding a small synthetic archive: each study with a simulated reader's
 * TID 1500 SR (OHIF's structure) holding SOME of its lesions, one study completely annotated. A run killed with
 * SIGKILL after its first study resumes with every study once; the dataset's existing labels are the SRs'; a later
 * run skips everything; nothing is written into the PACS.
 */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { readDatasetWithoutPixelData } from '../../../src/dicom/load-folder';
import type { HarvestRecord } from '../../../src/harvest/dataset';
import { writeSyntheticArchive, type SyntheticStudy } from '../../../src/harvest/synthetic-archive';
import { uploadFiles, useOrthanc } from '../../helpers/orthanc';

const repo = path.resolve(__dirname, '../../..');
const pacs = useOrthanc();
let tmp: string;
let studies: SyntheticStudy[];
let uploaded = 0;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-harvest-'));
  studies = writeSyntheticArchive(path.join(tmp, 'archive'), { seed: 13, studies: 3, completeEvery: 3, synth: { size: 256, slices: 20, thickness: 5, lesions: [3, 4] } });
  const files = studies.flatMap((s) => s.files);
  await uploadFiles(pacs(), files);
  uploaded = files.length;
}, 120000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const env = () => ({ ...process.env, LENS__PACS__DICOMWEBURL: pacs().dicomwebUrl, LENS__MODEL__THREADS: '1' });
const harvest = (out: string, extra: string[] = []) =>
  promisify(execFile)('node', [path.join(repo, 'bin/lens.js'), 'harvest', '--out', out, ...extra], { cwd: repo, env: env(), maxBuffer: 16 << 20 });
const records = (out: string): HarvestRecord[] =>
  fs.readdirSync(path.join(out, 'studies')).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(out, 'studies', f), 'utf8')));

/** Starts a harvest and SIGKILLs it as soon as it reports its first finished study. */
function harvestKilledAfterFirstStudy(out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [path.join(repo, 'bin/lens.js'), 'harvest', '--out', out], { cwd: repo, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (b: Buffer) => {
      text += b.toString();
      if (/labels, \d+ matched/.test(text)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(text) : reject(new Error(`harvest ended (${code}) before it was killed: ${text}`))));
  });
}

test('a run killed after its first study resumes: every study once, labels as in the SRs, lesions harvested', async () => {
  const out = path.join(tmp, 'dataset');
  await harvestKilledAfterFirstStudy(out);
  const before = records(out);
  expect(before.length).toBeGreaterThanOrEqual(1);
  expect(before.length).toBeLessThan(studies.length);

  // The resumed run scans by StudyDate windows around the archive's dates: the same studies are found.
  const studyDates = await Promise.all(studies.map(async (s) => (await readDatasetWithoutPixelData(s.files[0])).StudyDate as string));
  const sorted = [...studyDates].sort();
  const day = (d: string, delta: number) => {
    const t = new Date(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)) + delta);
    return `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, '0')}-${String(t.getDate()).padStart(2, '0')}`;
  };
  const { stdout } = await harvest(out, ['--since', day(sorted[0], -1), '--until', day(sorted[sorted.length - 1], 1)]);
  expect(stdout.match(/: already harvested$/gm)?.length).toBe(before.length);
  // Pixel data read from the PACS (metric lens_harvest_pacs_bytes_total): the 20 slices of 256 x 256 x 16 bits of each study it harvested.
  expect(stdout).toContain(`; ${(((studies.length - before.length) * 20 * 256 * 256 * 2) / 1e6).toFixed(1)} MB pixel data from the PACS`);

  const after = records(out);
  expect(after.map((r) => r.studyInstanceUID).sort()).toEqual(studies.map((s) => s.truth.studyInstanceUID).sort());
  for (const r of before) expect(after.find((a) => a.studyInstanceUID === r.studyInstanceUID)).toEqual(r);

  for (const s of studies) {
    const r = after.find((a) => a.studyInstanceUID === s.truth.studyInstanceUID)!;
    expect(r.skipped).toBeUndefined();
    expect(r.completelyAnnotated.value).toBe(s.complete);
    // The existing labels are the reader's SR's, each on its lesion's key slice and placed in the volume.
    expect(r.existingLabels.map((l) => l.keySlice.sopInstanceUID).sort()).toEqual(s.labeled.map((i) => s.truth.lesions[i].keySlice.sopInstanceUID).sort());
    for (const l of r.existingLabels) expect(l.bboxLPS).toHaveLength(6);
    const ids = [...r.matched, ...r.harvested, ...r.hardNegatives, ...r.uncertain].map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const h of r.harvested) expect(fs.readFileSync(path.join(out, h.picture!)).subarray(1, 4).toString()).toBe('PNG');
    if (s.complete) expect(r.harvested).toEqual([]);
  }
  const all = after.flatMap((r) => r.harvested);
  expect(all.length).toBeGreaterThan(0);
  expect(after.flatMap((r) => r.hardNegatives).length).toBeGreaterThan(0);
  expect(after.reduce((n, r) => n + r.matched.length, 0)).toBeGreaterThan(0);
  // Leftovers of the killed run's temporary files are not records.
  expect(fs.readdirSync(path.join(out, 'studies')).filter((f) => f.endsWith('.tmp'))).toEqual([]);

  // A later run skips every study and rewrites nothing.
  const mtimes = fs.readdirSync(path.join(out, 'studies')).map((f) => fs.statSync(path.join(out, 'studies', f)).mtimeMs);
  const again = await harvest(out);
  expect(again.stdout.match(/: already harvested$/gm)?.length).toBe(studies.length);
  expect(again.stdout).toContain('; 0.0 MB pixel data from the PACS');
  expect(fs.readdirSync(path.join(out, 'studies')).map((f) => fs.statSync(path.join(out, 'studies', f)).mtimeMs)).toEqual(mtimes);

  // Nothing was written into the PACS.
  const stats = (await (await fetch(`${pacs().url}/statistics`)).json()) as { CountInstances: number };
  expect(stats.CountInstances).toBe(uploaded);
}, 120000);
