/**
 * `lens synth` end to end: DICOM that dciodvfy accepts without errors, raw volumes equal to the DICOM pixels;
 * with --follow-up the same baseline bytes plus a follow-up study of the same patient.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

const repo = resolve(__dirname, '../../..');
let out: string;
/** The first study again, with --follow-up. */
let outFu: string;
const SMALL = ['--seed', '4', '--size', '64', '--slices', '6', '--format', 'both'];

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), 'lens-synth-'));
  outFu = mkdtempSync(join(tmpdir(), 'lens-synth-fu-'));
  execFileSync('node', [join(repo, 'bin/lens.js'), 'synth', '--out', out, '--studies', '2', ...SMALL], { cwd: repo, stdio: 'pipe' });
  execFileSync('node', [join(repo, 'bin/lens.js'), 'synth', '--out', outFu, '--studies', '1', ...SMALL, '--follow-up'], { cwd: repo, stdio: 'pipe' });
});
afterAll(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(outFu, { recursive: true, force: true });
});

function readDicom(file: string): any {
  const b = readFileSync(file);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)).dict);
}

describe('lens synth output', () => {
  it('writes one folder per study seed N*1000+s with dicom, raw volume and truth', () => {
    expect(readdirSync(out).sort()).toEqual(['synth-4000', 'synth-4001']);
    for (const d of readdirSync(out)) {
      expect(readdirSync(join(out, d)).sort()).toEqual(['dicom', 'truth.json', 'volume.i16', 'volume.json']);
      expect(readdirSync(join(out, d, 'dicom'))).toHaveLength(6);
    }
  });

  it('passes dciodvfy with no errors', () => {
    const files = [out, outFu].flatMap((o) => readdirSync(o).flatMap((d) => readdirSync(join(o, d, 'dicom')).map((f) => join(o, d, 'dicom', f))));
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

  it('with --follow-up writes the baseline byte for byte as without it, and a follow-up of the same patient beside it', () => {
    expect(readdirSync(outFu).sort()).toEqual(['synth-4000', 'synth-4000-fu']);
    const base = join(out, 'synth-4000'), again = join(outFu, 'synth-4000'), fu = join(outFu, 'synth-4000-fu');
    expect(readdirSync(fu).sort()).toEqual(['dicom', 'truth.json', 'volume.i16', 'volume.json']);
    for (const f of ['volume.i16', 'volume.json', ...readdirSync(join(base, 'dicom')).map((d) => join('dicom', d))]) {
      expect({ f, same: readFileSync(join(again, f)).equals(readFileSync(join(base, f))) }).toEqual({ f, same: true });
    }
    // truth.json gains only the pairing fields.
    const truth = JSON.parse(readFileSync(join(base, 'truth.json'), 'utf8'));
    const paired = JSON.parse(readFileSync(join(again, 'truth.json'), 'utf8'));
    expect(paired.studies[0]).toMatchObject({ patientKey: 'PH4000', timepoint: 0 });
    const { patientKey: _k, timepoint: _t, ...rest } = paired.studies[0];
    expect({ ...paired, studies: [{ ...rest, lesions: rest.lesions.map(({ lesionId: _id, ...l }: any) => l) }] }).toEqual(truth);
    const fuTruth = JSON.parse(readFileSync(join(fu, 'truth.json'), 'utf8')).studies[0];
    expect(fuTruth).toMatchObject({ patientKey: 'PH4000', timepoint: 1, followUpOf: 'synth-4000' });
    expect(fuTruth.shiftMm).toHaveLength(3);

    const b = readDicom(join(base, 'dicom', readdirSync(join(base, 'dicom'))[0]));
    const f = readDicom(join(fu, 'dicom', readdirSync(join(fu, 'dicom'))[0]));
    expect([f.PatientID, f.PatientName, f.PatientBirthDate]).toEqual([b.PatientID, b.PatientName, b.PatientBirthDate]);
    for (const k of ['StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID', 'SOPInstanceUID']) expect(f[k]).not.toBe(b[k]);
    expect(f.StudyInstanceUID).toBe(fuTruth.studyInstanceUID);
    expect(Number(f.StudyDate)).toBeGreaterThan(Number(b.StudyDate));
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
