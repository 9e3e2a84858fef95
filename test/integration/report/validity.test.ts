/**
 * Every SR and SEG we produce passes dciodvfy (no line with "Error") and dsrdump prints the SR tree: for the real
 * lung-dx-a0001 series with a hand-made finding, and for synthetic volumes with 0, 1 and 50 lesions.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeReportFiles } from '../../../src/report';
import type { Findings } from '../../../src/detect/findings';
import type { Volume } from '../../../src/dicom/volume';
import { dciodvfy, dsrdump, loadLungCase, syntheticFindings } from './fixtures';
import { smallVolume } from '../../unit/report/small-volume';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-report-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function checkObjects(name: string, findings: Findings, volume: Volume, sourceDataset: Record<string, any>) {
  const dir = path.join(tmp, name);
  const { files } = await writeReportFiles({ findings }, volume, sourceDataset, dir);
  expect(files.map((f) => path.basename(f))).toEqual(findings.lesions.length ? ['sr.dcm', 'seg.dcm'] : ['sr.dcm']);
  for (const f of files) {
    const v = dciodvfy(f);
    expect({ file: path.basename(f), errors: v.errors }).toEqual({ file: path.basename(f), errors: [] });
    // dciodvfy recognised the IOD it checked.
    expect(v.output).toMatch(path.basename(f) === 'sr.dcm' ? /Comprehensive3DSR/ : /Segmentation/);
  }
  const dump = dsrdump(path.join(dir, 'sr.dcm'));
  expect(dump.exitCode).toBe(0);
  expect(dump.output).not.toMatch(/^E:/m);
  expect(dump.output).toContain('Imaging Measurement Report');
  const groups = dump.output.match(/CONTAINER:\(,,"Measurement Group"\)/g) ?? [];
  expect(groups).toHaveLength(findings.lesions.length);
  return dump.output;
}

test('lung-dx-a0001 series 3 with one finding around the tumour', async () => {
  const { volume, sourceDataset, findings } = await loadLungCase();
  const tree = await checkObjects('lung', findings, volume, sourceDataset);
  expect(tree).toContain('Lesion 1 (lung nodule)');
  expect(tree).toContain('(39607008,SCT,"Lung structure")');
});

describe('synthetic volume', () => {
  const { volume, sourceDataset } = smallVolume({ cols: 64, rows: 48, slices: 24, seed: 'validity' });
  test.each([0, 1, 50])('%i lesions', async (n) => {
    const tree = await checkObjects(`synthetic-${n}`, syntheticFindings(volume, n), volume, sourceDataset);
    if (n === 0) expect(tree).toContain('No lesion detected');
  });
});
