/**
 * `lens synth` end to end: DICOM that dciodvfy accepts without errors, raw volumes equal to the DICOM pixels.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

const repo = resolve(__dirname, '../../..');
let out: string;

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'lens-synth-'));
  execFileSync('node', [join(repo, 'bin/lens.js'), 'synth', '--out', out, '--seed', '4', '--studies', '2', '--size', '64', '--slices', '6', '--format', 'both'], { cwd: repo, stdio: 'pipe' });
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('lens synth output', () => {
  it('writes one folder per study seed N*1000+s with dicom, raw volume and truth', () => {
    expect(readdirSync(out).sort()).toEqual(['synth-4000', 'synth-4001']);
    for (const d of readdirSync(out)) {
      expect(readdirSync(join(out, d)).sort()).toEqual(['dicom', 'truth.json', 'volume.i16', 'volume.json']);
      expect(readdirSync(join(out, d, 'dicom'))).toHaveLength(6);
    }
  });

  it('passes dciodvfy with no errors', () => {
    const files = readdirSync(out).flatMap((d) => readdirSync(join(out, d, 'dicom')).map((f) => join(out, d, 'dicom', f)));
    for (const f of files) {
      const r = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
      const text = `${r.stdout}${r.stderr}`;
      const errors = text.split('\n').filter((l) => /^Error/i.test(l.trim()));
      expect({ file: f, errors }).toEqual({ file: f, errors: [] });
      expect(text).toContain('CTImage');
    }
  });

  it('stores the same HU in DICOM (after rescale) as in volume.i16, with consistent geometry', () => {
    const dir = join(out, 'synth-4000');
    const meta = JSON.parse(readFileSync(join(dir, 'volume.json'), 'utf8'));
    const raw = readFileSync(join(dir, 'volume.i16'));
    const vol = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const [cols, rows, n] = meta.dims;
    expect(vol.length).toBe(cols * rows * n);
    const slices = readdirSync(join(dir, 'dicom')).map((f) => {
      const b = readFileSync(join(dir, 'dicom', f));
      const dict = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      expect(dict.meta['00020010'].Value[0]).toBe('1.2.840.10008.1.2.1');
      return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    });
    slices.sort((a: any, b: any) => a.ImagePositionPatient[2] - b.ImagePositionPatient[2]);
    const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
    slices.forEach((ds: any, k: number) => {
      expect(ds.PatientID).toBe('PH4000');
      expect(ds.StudyInstanceUID).toBe(truth.studies[0].studyInstanceUID);
      expect(ds.ImagePositionPatient.map(Number)).toEqual([meta.origin[0], meta.origin[1], meta.origin[2] + k * meta.spacing[2]]);
      expect(Number(ds.PixelSpacing[0])).toBe(meta.spacing[0]);
      expect(ds.SOPInstanceUID).toBe(meta.sopInstanceUIDs[k]);
      const px = new Uint16Array(ds.PixelData[0]);
      for (let i = 0; i < px.length; i++) {
        if (px[i] + Number(ds.RescaleIntercept) !== vol[k * cols * rows + i]) throw new Error(`slice ${k} pixel ${i} differs`);
      }
    });
  });

  it('rejects bad options with a one-line message and a non-zero exit', () => {
    const r = spawnSync('node', [join(repo, 'bin/lens.js'), 'synth', '--out', out, '--seed', '1', '--format', 'png'], { cwd: repo, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe('lens: --format must be one of dicom, raw, both, got "png"');
    const m = spawnSync('node', [join(repo, 'bin/lens.js'), 'synth', '--out', out, '--seed', '1', '--mix', 'tumour=2'], { cwd: repo, encoding: 'utf8' });
    expect(m.status).not.toBe(0);
    expect(m.stderr).toContain('unknown lesion type "tumour"');
  });
});
