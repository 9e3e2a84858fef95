/**
 * The four lossless transcodes of lung-dx-a0001 series 2, each stored alone in the test Orthanc (same UIDs as the
 * original, so the study is deleted before the next one): the select and fetch stages give the voxels of the uncompressed
 * original whether Orthanc transcodes the frames (JPEG Lossless, JPEG-LS, RLE) or cannot (JPEG 2000: HTTP 500, the
 * client then asks for the stored syntax and decodes locally).
 * Orthanc needs up to a second per JPEG 2000 file to ingest it here (JPEG-LS: 20 ms), so that case uses 8
 * contiguous slices (selection rules with minSlices 8) and compares them with the same 8 original slices.
 */
import path from 'node:path';
import { loadSelectedVolume, type LoadedVolume } from '../../../src/dicom/load-folder';
import { StoreError } from '../../../src/pacs/dicomweb';
import { uploadFiles, useOrthanc } from '../../helpers/orthanc';
import fs from 'node:fs';
import os from 'node:os';
import { client, expectSameVolume, first, LUNG_COMPRESSED, LUNG_SERIES2, readParts, rules, volumeFromPacs } from './fixtures';

const pacs = useOrthanc();
let original: LoadedVolume;
let originalPart: LoadedVolume;
const J2K_SLICES = 8;
const partRules = { ...rules, minSlices: J2K_SLICES };
const partDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pacs-part-'));
const dcmFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();

beforeAll(async () => {
  original = await loadSelectedVolume(LUNG_SERIES2, rules);
  for (const f of dcmFiles(LUNG_SERIES2).slice(20, 20 + J2K_SLICES)) fs.copyFileSync(path.join(LUNG_SERIES2, f), path.join(partDir, f));
  originalPart = await loadSelectedVolume(partDir, partRules);
}, 60000);

afterAll(() => fs.rmSync(partDir, { recursive: true, force: true }));

async function deleteAllStudies(): Promise<void> {
  const ids = (await (await fetch(`${pacs().url}/studies`)).json()) as string[];
  for (const id of ids) expect((await fetch(`${pacs().url}/studies/${id}`, { method: 'DELETE' })).ok).toBe(true);
}

async function frameAnswer(tsAsked: string): Promise<{ status: number; contentType: string | null }> {
  const dw = client(pacs().dicomwebUrl);
  const study = first((await dw.searchStudies())[0], '0020000D');
  const series = first((await dw.searchSeries(study))[0], '0020000E');
  const sop = first((await dw.searchInstances(study, series, {}, { limit: 1 }))[0], '00080018');
  const r = await fetch(`${pacs().dicomwebUrl}/studies/${study}/series/${series}/instances/${sop}/frames/1`, {
    headers: { Accept: `multipart/related; type="application/octet-stream"; transfer-syntax=${tsAsked}` },
  });
  await r.arrayBuffer();
  return { status: r.status, contentType: r.headers.get('content-type') };
}

// What Orthanc 1.10.1 + DICOMweb 1.7 (Debian) does with each syntax (docs/pacs.md): whether STOW-RS accepts the
// files, and the HTTP status of a frame asked for as Explicit VR Little Endian.
const cases: [string, string, boolean, number][] = [
  ['jpeg_lossless_sv1_4.70', '1.2.840.10008.1.2.4.70', true, 200],
  ['jpegls_lossless_4.80', '1.2.840.10008.1.2.4.80', true, 200],
  ['rle_1.2.5', '1.2.840.10008.1.2.5', true, 200],
  ['j2k_lossless_4.90', '1.2.840.10008.1.2.4.90', false, 500],
];

test.each(cases)('%s: the PACS volume equals the uncompressed original', async (folder, storedSyntax, stowAccepts, explicitStatus) => {
  await deleteAllStudies();
  const dw = client(pacs().dicomwebUrl);
  const dir = path.join(LUNG_COMPRESSED, folder);
  if (stowAccepts) {
    expect((await dw.storeInstances(readParts(dir))).stored).toHaveLength(64);
  } else {
    // The plugin refuses these parts (HTTP 400, no FailedSOPSequence item): StoreError still names every one.
    const err = await dw.storeInstances(readParts(dir).slice(0, 2)).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).failed).toHaveLength(2);
    expect((err as StoreError).failed[0].reason).toMatch(/not stored \(HTTP 400\)/);
    // Orthanc's REST API takes them.
    await uploadFiles(pacs(), dcmFiles(dir).slice(20, 20 + J2K_SLICES).map((f) => path.join(dir, f)));
  }

  expect((await frameAnswer('1.2.840.10008.1.2.1')).status).toBe(explicitStatus);
  expect((await frameAnswer('*')).contentType).toContain(`transfer-syntax=${storedSyntax}`);

  const loaded = await volumeFromPacs(dw, original.volume.studyInstanceUID, stowAccepts ? rules : partRules);
  expectSameVolume(loaded.volume, stowAccepts ? original.volume : originalPart.volume);
});
