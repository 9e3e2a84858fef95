/**
 * `lens synth --insert-into` end to end on a DICOM series (a lesion-free phantom written as DICOM stands in for real
 * CT): DICOM that dciodvfy accepts, pixels and truth equal to insertLesions on the loaded series, a new identity,
 * and the background's annotated lesion (its truth.json) kept in the truth.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../../src/config/load';
import type { BoxLPS, TruthFile } from '../../../src/detect/findings';
import { loadSelectedVolume } from '../../../src/dicom/load-folder';
import { insertLesions } from '../../../src/synth/insert-lesions';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';

const repo = resolve(__dirname, '../../..');
let tmp: string;
const background = generateStudy(777, { size: 128, slices: 24, thickness: 5, region: 'chest', lesions: [0, 0] });
const annotated: BoxLPS = [-20, -20, background.volume.origin[2] + 40, 0, 0, background.volume.origin[2] + 60];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lens-insert-'));
  writeStudyDicom(background, join(tmp, 'bg'));
  const truth: TruthFile = { source: 'test', boxConvention: 'LPS', studies: [{ studyInstanceUID: background.volume.studyInstanceUID, seriesInstanceUIDs: [], lesions: [{ type: 'lung_tumour', bboxLPS: annotated }] }] };
  writeFileSync(join(tmp, 'bg', 'truth.json'), JSON.stringify(truth));
  execFileSync('node', [join(repo, 'bin/lens.js'), 'synth', '--insert-into', join(tmp, 'bg'), '--out', join(tmp, 'out'), '--seed', '3', '--studies', '1', '--lesions', '4'], { cwd: repo, stdio: 'pipe' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('lens synth --insert-into', () => {
  const dir = () => join(tmp, 'out', 'inserted-bg-3000');

  it('writes the study that insertLesions makes of the loaded series, with the annotated lesion kept', async () => {
    const cfg = loadConfig({});
    const bg = await loadSelectedVolume(join(tmp, 'bg'), cfg.selection);
    const expected = insertLesions(bg.volume, 3000, { lesions: [4, 4], annotated: [{ type: 'lung_tumour', bboxLPS: annotated }], backgroundName: 'bg' });
    const written = await loadSelectedVolume(join(dir(), 'dicom'), cfg.selection);
    expect(written.volume.studyInstanceUID).toBe(expected.volume.studyInstanceUID);
    expect(written.volume.studyInstanceUID).not.toBe(background.volume.studyInstanceUID);
    expect(Buffer.from(written.volume.data.buffer).equals(Buffer.from(expected.volume.data.buffer))).toBe(true);
    const truth = JSON.parse(readFileSync(join(dir(), 'truth.json'), 'utf8')) as TruthFile;
    expect(truth.studies[0]).toEqual(JSON.parse(JSON.stringify(expected.truth)));
    expect(truth.studies[0].lesions.filter((l) => l.origin === 'annotated')).toEqual([{ type: 'lung_tumour', bboxLPS: annotated, origin: 'annotated' }]);
    expect(truth.studies[0].lesions.filter((l) => l.origin === 'inserted').length).toBeGreaterThan(0);
    expect(written.firstDataset.PatientName).not.toEqual(bg.firstDataset.PatientName);
  });

  it('passes dciodvfy with no errors', () => {
    const files = readdirSync(join(dir(), 'dicom')).map((f) => join(dir(), 'dicom', f));
    expect(files).toHaveLength(24);
    for (const f of files.slice(0, 3)) {
      const r = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
      const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^Error/i.test(l.trim()));
      expect({ file: f, errors }).toEqual({ file: f, errors: [] });
    }
  });
});
