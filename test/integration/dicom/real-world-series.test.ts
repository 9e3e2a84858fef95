/**
 * Every study in ../shared/data/ct is analysed or refused with a reason a radiologist accepts, and `lens inspect`
 * says what was tolerated (issue 9): per-instance frames of reference (LIDC-IDRI), a PET-CT attenuation CT
 * (DERIVED\PRIMARY), no ImageType, thick slices. `lens inspect --headers` runs as a child process on each study
 * (headers only, so it stays fast); one full `lens inspect` and one `lens detect` prove the tolerated series are
 * read and analysed end to end.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dcmdumpGeometry, sortedAlongNormal } from './dcmdump-geometry';

const ROOT = path.resolve(__dirname, '../../..');
const CT = path.resolve(ROOT, '../shared/data/ct');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function lens(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/lens.js'), ...args], { cwd: ROOT, env: { ...process.env, LENS_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** At most `limit` at a time: the machine's cores are shared with the rest of the suite. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]);
    }
  }));
  return out;
}

// lung-dx-a0001-compressed/* (series 2 of lung-dx-a0001 transcoded) is loaded and compared voxel by voxel in real-ct.test.ts.
const STUDIES = [
  'lung-dx-a0001',
  'lidc-idri-0314',
  'pancreas-ct-cb-001',
  'backgrounds/acrin-flt-breast-001',
  'backgrounds/acrin-flt-breast-013',
  'backgrounds/cmb-crc-msb-01068',
  'backgrounds/lungfcp-01-0001',
  'single-slices',
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const report: Record<string, { run: Run; json: any }> = {};
let tmp: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-real-world-'));
  const runs = await mapLimited(STUDIES, 3, (s) => lens('inspect', path.join(CT, s), '--headers', '--json'));
  STUDIES.forEach((s, k) => (report[s] = { run: runs[k], json: JSON.parse(runs[k].stdout) }));
}, 300000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('every real study is selected for analysis, or refused with reasons (single slices only)', () => {
  for (const s of STUDIES) {
    const { run, json } = report[s];
    if (s === 'single-slices') continue;
    expect({ study: s, code: run.code, stderr: run.stderr }).toEqual({ study: s, code: 0, stderr: '' });
    expect(json.selected.seriesInstanceUID).toMatch(/^[\d.]+$/);
    expect(json.volume.dims[2]).toBeGreaterThanOrEqual(20);
  }
  // The one-slice files (codec samples, a localizer, a 3D capture) are no volume; each says why.
  const single = report['single-slices'];
  expect(single.run.code).toBe(2);
  expect(single.run.stderr).toMatch(/no CT series .* can be analysed/);
  expect(single.json.selected).toBeNull();
  expect(single.json.rejected.length).toBeGreaterThanOrEqual(8);
  for (const r of single.json.rejected) expect(r.reasons.join('; ')).toMatch(/slices? \(at least 20 needed\)|localizer|duplicate slice position|missing geometry/);
});

test('clean scanner series tolerate nothing', () => {
  for (const s of STUDIES.filter((x) => /lung-dx|pancreas|flt-breast-001|cmb-crc/.test(x))) {
    expect({ study: s, tolerated: report[s].json.tolerated }).toEqual({ study: s, tolerated: [] });
  }
  expect(report['lung-dx-a0001'].json.selected.convolutionKernel).toBe('B');
  // 5 mm slices 4.25 mm apart: at the thickness older protocols use, not called thick.
  expect(report['backgrounds/acrin-flt-breast-001'].json.volume.spacing[2]).toBeCloseTo(4.25, 4);
});

test('LIDC-IDRI-0314: per-instance FrameOfReferenceUIDs tolerated; geometry and the chosen UID agree with dcmdump', () => {
  const { json } = report['lidc-idri-0314'];
  const truth = JSON.parse(fs.readFileSync(path.join(CT, 'lidc-idri-0314/truth.json'), 'utf8'));
  expect(truth.studies[0].seriesInstanceUIDs).toContain(json.selected.seriesInstanceUID);
  expect(json.tolerated).toEqual(['each of 275 instances has its own FrameOfReferenceUID; geometry is one volume (the first slice\'s UID is used)']);
  const sorted = sortedAlongNormal(dcmdumpGeometry(path.join(CT, 'lidc-idri-0314')));
  expect(new Set(sorted.map((g) => g.frameOfReferenceUID)).size).toBe(275);
  expect(json.volume.frameOfReferenceUID).toBe(sorted[0].frameOfReferenceUID);
  expect(json.volume.dims).toEqual([sorted[0].cols, sorted[0].rows, 275]);
  sorted[0].ipp.forEach((x, i) => expect(json.volume.origin[i]).toBeCloseTo(x, 3));
  expect(json.volume.spacing[2]).toBeCloseTo((sorted[274].z - sorted[0].z) / 274, 3);
});

test('ACRIN-FLT-Breast 013: the PET-CT attenuation CT (DERIVED\\PRIMARY\\AXIAL) is accepted and says so', () => {
  const { json } = report['backgrounds/acrin-flt-breast-013'];
  expect(json.selected.imageType).toBe('DERIVED\\PRIMARY\\AXIAL\\CT_SOM5 SPI');
  expect(json.tolerated).toEqual([
    'ImageType DERIVED\\PRIMARY\\AXIAL\\CT_SOM5 SPI: derived images (such as the low-dose CT of a PET-CT), accepted, ranked below ORIGINAL\\PRIMARY series',
  ]);
});

test('Lung-Fused-CT-Pathology 01-0001: no ImageType is accepted and said', () => {
  const { json } = report['backgrounds/lungfcp-01-0001'];
  expect(json.selected.imageType).toBe('');
  expect(json.tolerated).toEqual(['no ImageType: accepted, ranked after series that declare ORIGINAL\\PRIMARY or DERIVED\\PRIMARY']);
});

describe('thick slices, made from lung-dx-a0001 series 3 (5 mm) by keeping every n-th slice', () => {
  function subset(name: string, every: number): string {
    const src = path.join(CT, 'lung-dx-a0001/series3_5mm_kernelB');
    const d = path.join(tmp, name);
    fs.mkdirSync(d);
    const sorted = sortedAlongNormal(dcmdumpGeometry(src));
    sorted.filter((_, k) => k % every === 0).forEach((g) => fs.copyFileSync(g.file, path.join(d, path.basename(g.file))));
    return d;
  }

  test('10 mm apart: analysed, the full inspect reads the pixels and prints what was tolerated', async () => {
    const r = await lens('inspect', subset('every-2nd', 2));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dimensions +512 x 512 x 32 /);
    expect(r.stdout).toMatch(/HU range +-\d+ \.\. \d+/);
    expect(r.stdout).toContain('Tolerated: slice thickness 5 mm, 10 mm apart (thick slices: small lesions may be missed)\n');
  });

  test('15 mm apart: refused by default, analysed when the configuration allows it', async () => {
    const d = subset('every-3rd', 3);
    const refused = await lens('inspect', d, '--headers');
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(/slices are 15 mm apart \(at most 10 mm: lesions could lie between slices unseen\)/);
    const config = path.join(tmp, 'wide.json');
    fs.writeFileSync(config, JSON.stringify({ selection: { maxSliceSpacingMm: 15 } }));
    const allowed = await lens('--config', config, 'inspect', d, '--headers', '--json');
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).tolerated).toEqual(['slice thickness 5 mm, 15 mm apart (thick slices: small lesions may be missed)']);
  });
});

test('lens detect analyses the PET-CT attenuation CT that used to be refused', async () => {
  const out = path.join(tmp, 'detect-013');
  const r = await lens('detect', path.join(CT, 'backgrounds/acrin-flt-breast-013'), '--out', out, '--no-report');
  expect(r.code).toBe(0);
  const findings = JSON.parse(fs.readFileSync(path.join(out, 'findings.json'), 'utf8'));
  expect(findings.seriesInstanceUID).toBe(report['backgrounds/acrin-flt-breast-013'].json.selected.seriesInstanceUID);
  expect(Array.isArray(findings.lesions)).toBe(true);
});
