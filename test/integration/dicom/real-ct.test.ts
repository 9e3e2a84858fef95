/**
 * The real CT studies in ../shared/data/ct: geometry checked against dcmdump (dcmtk), the tumour of
 * lung-dx-a0001 on soft tissue, compressed transcodes bit-identical, every single-slice file decodes or names
 * its transfer syntax, and the lung-dx-a0001 series choice is deterministic and explained.
 */
import * as fs from 'fs';
import * as path from 'path';
import { selectionSchema } from '../../../src/config/schema';
import { assembleVolume } from '../../../src/dicom/assemble-volume';
import { DicomDecodeError } from '../../../src/dicom/decode';
import { fileFrameReader, loadSelectedVolume, scanDicomFolder } from '../../../src/dicom/load-folder';
import { selectSeries } from '../../../src/dicom/select-series';
import { lpsToVoxel, type Volume } from '../../../src/dicom/volume';
import { dcmdumpGeometry, sortedAlongNormal } from './dcmdump-geometry';

function range(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    lo = Math.min(lo, a[i]);
    hi = Math.max(hi, a[i]);
  }
  return [lo, hi];
}

const CT = path.resolve(__dirname, '../../../../shared/data/ct');
const rules = selectionSchema.parse(undefined);

function expectGeometryMatchesDcmdump(v: Volume, dir: string) {
  const g = dcmdumpGeometry(dir);
  expect(g.length).toBe(v.dims[2]);
  expect(v.dims[0]).toBe(g[0].cols);
  expect(v.dims[1]).toBe(g[0].rows);
  expect(v.spacing[0]).toBeCloseTo(g[0].ps[1], 6);
  expect(v.spacing[1]).toBeCloseTo(g[0].ps[0], 6);
  const sorted = sortedAlongNormal(g);
  sorted[0].ipp.forEach((x, i) => expect(v.origin[i]).toBeCloseTo(x, 4));
  const zs = sorted.map((s) => s.z);
  expect(v.spacing[2]).toBeCloseTo((zs[zs.length - 1] - zs[0]) / (zs.length - 1), 4);
  v.slices.forEach((s, k) => s.position.forEach((x, i) => expect(x).toBeCloseTo(sorted[k].ipp[i], 4)));
  expect(v.direction.row).toEqual(g[0].iop.slice(0, 3));
  expect(v.direction.column).toEqual(g[0].iop.slice(3, 6));
}

function boxStats(v: Volume, b: number[]): { mean: number; median: number } {
  const a = lpsToVoxel(v, [b[0], b[1], b[2]]);
  const c = lpsToVoxel(v, [b[3], b[4], b[5]]);
  const lo = a.map((x, i) => Math.max(0, Math.ceil(Math.min(x, c[i]))));
  const hi = a.map((x, i) => Math.min(v.dims[i] - 1, Math.floor(Math.max(x, c[i]))));
  const vals: number[] = [];
  for (let k = lo[2]; k <= hi[2]; k++)
    for (let j = lo[1]; j <= hi[1]; j++) for (let i = lo[0]; i <= hi[0]; i++) vals.push(v.data[k * v.dims[0] * v.dims[1] + j * v.dims[0] + i]);
  vals.sort((x, y) => x - y);
  return { mean: vals.reduce((s, x) => s + x, 0) / vals.length, median: vals[vals.length >> 1] };
}

describe('lung-dx-a0001', () => {
  let loaded: Awaited<ReturnType<typeof loadSelectedVolume>>;
  beforeAll(async () => {
    loaded = await loadSelectedVolume(path.join(CT, 'lung-dx-a0001'), rules);
  });

  test('selects the kernel B reconstruction, deterministically, and explains why kernel L was not chosen', async () => {
    const scan = await scanDicomFolder(path.join(CT, 'lung-dx-a0001'));
    const kernels = Object.fromEntries(scan.series.map((s) => [s.seriesInstanceUID, s.instances[0].convolutionKernel]));
    const sel = loaded.selection;
    expect(kernels[sel.selected!.seriesInstanceUID]).toBe('B');
    expect(sel.why).toMatch(/kernel B/);
    expect(sel.rejected).toHaveLength(1);
    expect(kernels[sel.rejected[0].series.seriesInstanceUID]).toBe('L');
    expect(sel.rejected[0].reasons.join(' ')).toMatch(/kernel L/);
    // Same choice whatever the order the series arrive in.
    const reversed = selectSeries([...scan.series].reverse(), rules);
    expect(reversed.selected!.seriesInstanceUID).toBe(sel.selected!.seriesInstanceUID);
    expect(reversed.why).toBe(sel.why);
    // Non-DICOM files beside the series are reported, not fatal.
    expect(loaded.unreadable.every((u) => /not DICOM/.test(u.reason))).toBe(true);
  });

  test('geometry matches dcmdump', () => {
    expectGeometryMatchesDcmdump(loaded.volume, path.join(CT, 'lung-dx-a0001/series3_5mm_kernelB'));
  });

  test('the truth tumour box lies on soft tissue, the lung in front of it is air', () => {
    const truth = JSON.parse(fs.readFileSync(path.join(CT, 'lung-dx-a0001/truth.json'), 'utf8'));
    const b: number[] = truth.studies[0].lesions[0].bboxLPS;
    expect(boxStats(loaded.volume, b).mean).toBeGreaterThan(-300);
    // The tumour abuts the aorta medially and the chest wall posteriorly, so the surrounding lung is sampled in a
    // 15 mm slab directly anterior to the box (same slices): the lung the tumour grows into.
    const anterior = [b[0], b[1] - 15, b[2], b[3], b[1], b[5]];
    expect(boxStats(loaded.volume, anterior).median).toBeLessThan(-700);
    const anteroLateral = [(b[0] + b[3]) / 2, b[1] - 15, b[2], b[3], b[1], b[5]];
    expect(boxStats(loaded.volume, anteroLateral).mean).toBeLessThan(-700);
  });
});

test('pancreas-ct-cb-001 loads with geometry matching dcmdump', async () => {
  const r = await loadSelectedVolume(path.join(CT, 'pancreas-ct-cb-001'), rules);
  expect(r.volume.dims[2]).toBe(134);
  // Clean scanner output: nothing tolerated.
  expect(r.volume.tolerated).toEqual([]);
  expectGeometryMatchesDcmdump(r.volume, path.join(CT, 'pancreas-ct-cb-001/CT'));
  // The scanner's intercept is -1000 for stored 0: air outside the body reads about -1000 HU.
  expect(range(r.volume.data.subarray(0, 512 * 512))[0]).toBeLessThanOrEqual(-990);
});

describe('lung-dx-a0001-compressed', () => {
  let reference: Volume;
  beforeAll(async () => {
    const scan = await scanDicomFolder(path.join(CT, 'lung-dx-a0001/series2_5mm_kernelL'));
    expect(scan.series).toHaveLength(1);
    reference = await assembleVolume(scan.series[0], fileFrameReader(scan.series[0]));
    expectGeometryMatchesDcmdump(reference, path.join(CT, 'lung-dx-a0001/series2_5mm_kernelL'));
  });

  test.each(['jpeg_lossless_sv1_4.70', 'rle_1.2.5', 'jpegls_lossless_4.80', 'j2k_lossless_4.90'])('%s decodes bit-identical to the uncompressed series', async (folder) => {
    const r = await loadSelectedVolume(path.join(CT, 'lung-dx-a0001-compressed', folder), rules);
    const syntax = r.series.instances[0].transferSyntaxUID!;
    expect(folder.replace(/_/g, '.')).toContain(syntax.replace('1.2.840.10008.', '').replace(/^1\.2\./, ''));
    expect(r.volume.dims).toEqual(reference.dims);
    expect(r.volume.origin).toEqual(reference.origin);
    expect(r.volume.slices.map((s) => s.sopInstanceUID)).toEqual(reference.slices.map((s) => s.sopInstanceUID));
    expect(Buffer.from(r.volume.data.buffer).equals(Buffer.from(reference.data.buffer))).toBe(true);
  });
});

test('every single-slices file decodes or fails with an error naming its transfer syntax', async () => {
  const dir = path.join(CT, 'single-slices');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.dcm'));
  const scan = await scanDicomFolder(dir);
  expect(scan.unreadable).toEqual([]);
  const seen = new Set<string>();
  for (const s of scan.series) {
    const read = fileFrameReader(s);
    for (const inst of s.instances) {
      seen.add(path.basename(inst.source!));
      for (const f of inst.frames) {
        try {
          const px = await read(inst.sopInstanceUID, f.frameNumber);
          expect(px.length).toBe(inst.rows * inst.columns);
          // Not a constant image: something was decoded.
          const [lo, hi] = range(px);
          expect(hi - lo).toBeGreaterThan(100);
        } catch (e) {
          expect(e).toBeInstanceOf(DicomDecodeError);
          expect((e as Error).message).toContain(inst.transferSyntaxUID!);
        }
      }
    }
  }
  expect([...seen].sort()).toEqual(files.sort());
});
