/**
 * The pieces every study source shares: the one QIDO-RS series reading, the one metadata-to-headers loop, and the
 * folder source over a small study written as real DICOM files (series list, metadata, one dataset without pixel
 * data, frames as the files hold them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { headersFromDatasets } from '../../../src/dicom/instance-header';
import { readPart10 } from '../../../src/dicom/part10';
import { seriesSummaryFromQido } from '../../../src/pacs/dicomweb';
import { FolderStudySource } from '../../../src/source/folder-source';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';

test('a QIDO-RS series result becomes a series summary; one without a Series Instance UID does not', () => {
  expect(
    seriesSummaryFromQido({
      '0020000E': { vr: 'UI', Value: ['1.2.3'] },
      '00080060': { vr: 'CS', Value: ['SEG'] },
      '0008103E': { vr: 'LO', Value: ['LENS lesions'] },
      '00080070': { vr: 'LO', Value: ['lens-pacs'] },
      '00201209': { vr: 'IS', Value: [1] },
    }),
  ).toEqual({ seriesInstanceUID: '1.2.3', modality: 'SEG', seriesDescription: 'LENS lesions', manufacturer: 'lens-pacs', numberOfInstances: 1 });
  expect(seriesSummaryFromQido({ '0020000E': { vr: 'UI', Value: ['1.2.4'] } })).toEqual({ seriesInstanceUID: '1.2.4' });
  expect(seriesSummaryFromQido({ '00080060': { vr: 'CS', Value: ['CT'] } })).toBeUndefined();
});

test('metadata datasets become headers; a dataset that is no image instance is set aside with the reason', () => {
  const image = { StudyInstanceUID: '1.2', SeriesInstanceUID: '1.2.3', SOPInstanceUID: '1.2.3.1', Modality: 'CT', Rows: 4, Columns: 4 };
  const { headers, unreadable } = headersFromDatasets([image, { SOPInstanceUID: '1.2.3.2', Modality: 'CT' }]);
  expect(headers.map((h) => h.sopInstanceUID)).toEqual(['1.2.3.1']);
  expect(unreadable).toEqual([{ sopInstanceUID: '1.2.3.2', reason: expect.stringMatching(/SeriesInstanceUID, StudyInstanceUID/) }]);
});

describe('folder source', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-folder-source-'));
  const study = generateStudy(77, { size: 48, slices: 6 });
  const v = study.volume;
  beforeAll(() => writeStudyDicom(study, dir));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('lists the study and its series, reads metadata once per scan, and frames and one dataset from the files', async () => {
    const source = new FolderStudySource(dir);
    expect(await source.studies()).toEqual([v.studyInstanceUID]);
    expect(await source.listSeries(v.studyInstanceUID)).toEqual([
      { seriesInstanceUID: v.seriesInstanceUID, modality: 'CT', seriesDescription: expect.any(String), numberOfInstances: 6 },
    ]);
    expect(await source.listSeries('1.2.999')).toEqual([]);
    const md = await source.seriesMetadata(v.studyInstanceUID, v.seriesInstanceUID);
    expect(md.series.instances).toHaveLength(6);
    const sop = v.slices[0].sopInstanceUID;
    const ds = await md.dataset(sop);
    expect(ds.SOPInstanceUID).toBe(sop);
    expect(ds.PatientID).toBe(study.patient.id);
    expect(ds.PixelData).toBeUndefined();
    expect((await source.instanceMetadata(v.studyInstanceUID, v.seriesInstanceUID, sop)).SOPInstanceUID).toBe(sop);
    // The frame as stored in the file (no rescale).
    const header = md.series.instances.find((h) => h.sopInstanceUID === sop)!;
    const frame = await source.frameReader(v.studyInstanceUID, v.seriesInstanceUID, md.series.instances)(sop, 1);
    const file = readPart10(fs.readFileSync(header.source!), { headerOnly: false });
    if (typeof file === 'string') throw new Error(file);
    const stored = new Int16Array(file.dataset.PixelData[0]);
    expect(frame.length).toBe(48 * 48);
    expect(Array.from(frame)).toEqual(Array.from(header.pixelRepresentation ? stored : new Uint16Array(stored.buffer)));
    await expect(source.seriesMetadata(v.studyInstanceUID, '1.2.999')).rejects.toThrow(/no series 1\.2\.999/);
  });
});
