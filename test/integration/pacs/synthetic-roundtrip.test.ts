/**
 * A synthetic study round-trips through a real Orthanc: written as DICOM by the generator, stored by STOW-RS,
 * found by QIDO-RS, retrieved by WADO-RS, and the volume equals the one generated (voxel-identical, same geometry).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateStudy, type SynthStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { useOrthanc } from '../../helpers/orthanc';
import { client, first, readParts, volumeFromPacs } from './fixtures';

const pacs = useOrthanc();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pacs-synth-'));
let study: SynthStudy;

beforeAll(() => {
  study = generateStudy(4242, { size: 96, slices: 24 });
  writeStudyDicom(study, dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('STOW-RS, QIDO-RS, WADO-RS: the volume equals the generated one', async () => {
  const dw = client(pacs().dicomwebUrl);
  const v = study.volume;
  const stored = await dw.storeInstances(readParts(dir));
  expect(stored.stored).toHaveLength(v.dims[2]);

  const studies = await dw.searchStudies({ PatientID: study.patient.id });
  expect(studies.map((s) => first(s, '0020000D'))).toEqual([v.studyInstanceUID]);
  const series = await dw.searchSeries(v.studyInstanceUID);
  expect(series.map((s) => first(s, '0020000E'))).toEqual([v.seriesInstanceUID]);

  const loaded = await volumeFromPacs(dw, v.studyInstanceUID);
  const got = loaded.volume;
  expect(got.dims).toEqual(v.dims);
  got.spacing.forEach((s, a) => expect(s).toBeCloseTo(v.spacing[a], 4));
  got.origin.forEach((o, a) => expect(o).toBeCloseTo(v.origin[a], 3));
  for (const axis of ['row', 'column', 'normal'] as const) got.direction[axis].forEach((d, a) => expect(d).toBeCloseTo(v.direction[axis][a], 6));
  expect(got.slices.map((s) => s.sopInstanceUID)).toEqual(v.slices.map((s) => s.sopInstanceUID));
  expect(got.frameOfReferenceUID).toBe(v.frameOfReferenceUID);
  const diff = got.data.findIndex((x, i) => x !== v.data[i]);
  expect(diff === -1 ? 'identical' : `first difference at voxel ${diff}: ${got.data[diff]} vs ${v.data[diff]}`).toBe('identical');
  expect(loaded.sourceDataset.PatientID).toBe(study.patient.id);
});
