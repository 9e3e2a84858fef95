/**
 * The real lung-dx-a0001 series 2 (64 CT slices) through a real Orthanc with the DICOMweb plugin: STOW-RS in,
 * QIDO-RS finds it (also page by page), WADO-RS metadata and frames give the same volume as the files on disk.
 */
import { loadSelectedVolume } from '../../../src/dicom/load-folder';
import { DicomWebClient, PacsHttpError, StoreError } from '../../../src/pacs/dicomweb';
import { DicomWebStudySource } from '../../../src/source/dicomweb-source';
import { useOrthanc } from '../../helpers/orthanc';
import { client, first, expectSameVolume, LUNG_SERIES2, readParts, rules, volumeFromPacs } from './fixtures';

// dcmjs ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

const pacs = useOrthanc();
let dw: DicomWebClient;
let studyUID: string;
let seriesUID: string;
const parts = readParts(LUNG_SERIES2);

beforeAll(async () => {
  dw = client(pacs().dicomwebUrl);
  const r = await dw.storeInstances(parts);
  expect(r.failed).toEqual([]);
  expect(r.stored).toHaveLength(64);
  studyUID = first((await dw.searchStudies())[0], '0020000D');
  seriesUID = first((await dw.searchSeries(studyUID))[0], '0020000E');
}, 120000);

test('QIDO-RS finds the study, its series and all 64 instances, also 10 per page', async () => {
  const studies = await dw.searchStudies({ PatientID: 'Lung_Dx-A0001' });
  expect(studies.map((s) => first(s, '0020000D'))).toEqual([studyUID]);
  expect(await dw.searchStudies({ PatientID: 'nobody' })).toEqual([]);
  const series = await dw.searchSeries(studyUID);
  expect(series).toHaveLength(1);
  expect(first(series[0], '00080060')).toBe('CT');

  const page = await dw.searchInstances(studyUID, seriesUID, {}, { limit: 10, offset: 60 });
  expect(page).toHaveLength(4);
  const all = await dw.searchInstances(studyUID, seriesUID, {}, { all: true, limit: 10 });
  const uids = all.map((i) => first(i, '00080018'));
  expect(uids).toHaveLength(64);
  expect(new Set(uids).size).toBe(64);
  const unpaged = await dw.searchInstances(studyUID, seriesUID);
  expect(new Set(unpaged.map((i) => first(i, '00080018')))).toEqual(new Set(uids));
});

test('WADO-RS metadata is naturalized, one dataset per instance', async () => {
  const meta = await dw.retrieveSeriesMetadata(studyUID, seriesUID);
  expect(meta).toHaveLength(64);
  expect(meta[0].SeriesInstanceUID).toBe(seriesUID);
  expect(meta[0].Modality).toBe('CT');
  expect(meta[0].Rows).toBe(512);
  expect(meta[0].ImagePositionPatient).toHaveLength(3);
});

test('the study source: series summaries from QIDO-RS, one instance\'s metadata without bulk data', async () => {
  const source = new DicomWebStudySource(dw);
  expect(await source.listSeries(studyUID)).toEqual([expect.objectContaining({ seriesInstanceUID: seriesUID, modality: 'CT', numberOfInstances: 64 })]);
  const md = await source.seriesMetadata(studyUID, seriesUID);
  expect(md.series.instances).toHaveLength(64);
  expect(md.unreadable).toEqual([]);
  const sop = md.series.instances[0].sopInstanceUID;
  const one = await source.instanceMetadata(studyUID, seriesUID, sop);
  expect(one.SOPInstanceUID).toBe(sop);
  expect(one.PixelData).toBeUndefined();
  const kept = await md.dataset(sop);
  for (const k of ['SOPInstanceUID', 'StudyInstanceUID', 'PatientID', 'SliceThickness', 'ImagePositionPatient']) expect(kept[k]).toEqual(one[k]);
  expect(kept.PixelData).toBeUndefined();
});

test('the volume from the PACS equals the volume from the files', async () => {
  const fromFiles = await loadSelectedVolume(LUNG_SERIES2, rules);
  const fromPacs = await volumeFromPacs(dw, studyUID);
  expect(fromPacs.selection.series.seriesInstanceUID).toBe(fromFiles.series.seriesInstanceUID);
  expectSameVolume(fromPacs.volume, fromFiles.volume);
  expect(fromPacs.sourceDataset.SOPInstanceUID).toBe(fromPacs.volume.slices[0].sopInstanceUID);
  expect(fromPacs.sourceDataset.StudyInstanceUID).toBe(studyUID);
  expect(fromPacs.sourceDataset.PixelData).toBeUndefined();
});

test('STOW-RS of invalid instances throws StoreError naming each failed instance and its reason', async () => {
  // A data set without SOPInstanceUID (and without it in the meta header), and a part that is not DICOM at all.
  const { dict, meta } = dcmjs.data.DicomMessage.readFile(parts[0]);
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict);
  ds._meta = dcmjs.data.DicomMetaDictionary.namifyDataset(meta);
  delete ds.SOPInstanceUID;
  delete ds._meta.MediaStorageSOPInstanceUID;
  const noSop: ArrayBuffer = dcmjs.data.datasetToBuffer(ds).buffer;
  const junk = new TextEncoder().encode('this is not DICOM').buffer as ArrayBuffer;
  const err = await dw.storeInstances([noSop, parts[1], junk]).catch((e) => e);
  expect(err).toBeInstanceOf(StoreError);
  const e = err as StoreError;
  expect(e.storedCount).toBe(1);
  expect(e.failed).toHaveLength(2);
  expect(e.failed[0].reason).toMatch(/no SOP Instance UID/);
  expect(e.failed[1].reason).toMatch(/not a DICOM Part 10 file/);
  expect(e.message).toMatch(/2 instance\(s\) not stored, 1 stored/);
});

test('STOW-RS into another study: the FailedSOPSequence reason is reported', async () => {
  const err = await dw.storeInstances([parts[2]], { studyInstanceUID: '1.2.3.4.5' }).catch((e) => e);
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).failed).toEqual([
    expect.objectContaining({ failureCode: 0x0110, reason: expect.stringMatching(/processing failure \(0x0110\)/) }),
  ]);
});

test('an unknown series is a PacsHttpError 404, not retried', async () => {
  const err = await dw.retrieveSeriesMetadata(studyUID, '1.2.3.999').catch((e) => e);
  expect(err).toBeInstanceOf(PacsHttpError);
  expect((err as PacsHttpError).status).toBe(404);
  expect((err as PacsHttpError).attempts).toBe(1);
});
