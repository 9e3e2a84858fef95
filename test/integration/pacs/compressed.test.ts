/**
 * The four lossless transcodes of lung-dx-a0001 series 2, each stored alone in the test Orthanc (same UIDs as the
 * original, so the study is deleted before the next one): the select and fetch stages give the voxels of the uncompressed
 * original whether Orthanc transcodes the frames (JPEG Lossless, JPEG-LS, RLE) or cannot (JPEG 2000: HTTP 500, the
 * client then asks for the stored syntax and decodes locally).
 * Each case stores the same 3 contiguous slices (selection rules with minSlices 3) and compares them with those 3
 * slices of the original: every frame takes the same decoding path, so more slices would prove nothing more, and
 * Orthanc spends seconds of CPU on each request that reads these JPEG 2000 files (an upload: about 4 s here;
 * JPEG-LS: 20 ms). dicomweb-roundtrip.test.ts reads the whole uncompressed series.
 */
import path from 'node:path';
import { loadSelectedVolume, type LoadedVolume } from '../../../src/dicom/load-folder';
import { StoreError } from '../../../src/pacs/dicomweb';
import { uploadFiles, useOrthanc } from '../../helpers/orthanc';
import fs from 'node:fs';
import os from 'node:os';
import { client, expectSameVolume, first, LUNG_COMPRESSED, LUNG_SERIES2, readParts, rules, volumeFromPacs } from './fixtures';

const pacs = useOrthanc();
let originalPart: LoadedVolume;
const PART_SLICES = 3;
const partRules = { ...rules, minSlices: PART_SLICES };
const partDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-pacs-part-'));
const dcmFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort();
/** The part's files in a folder of the series (every transcode keeps the original's file names and order). */
const partFiles = (dir: string) => dcmFiles(dir).slice(20, 20 + PART_SLICES).map((f) => path.join(dir, f));

beforeAll(async () => {
  for (const f of partFiles(LUNG_SERIES2)) fs.copyFileSync(f, path.join(partDir, path.basename(f)));
  originalPart = await loadSelectedVolume(partDir, partRules);
}, 60000);

afterAll(() => fs.rmSync(partDir, { recursive: true, force: true }));

async function deleteAllStudies(): Promise<void> {
  const ids = (await (await fetch(`${pacs().url}/studies`)).json()) as string[];
  for (const id of ids) expect((await fetch(`${pacs().url}/studies/${id}`, { method: 'DELETE' })).ok).toBe(true);
}

/** The WADO-RS URL of the first frame of an instance of the one study stored. */
async function firstFrameUrl(): Promise<string> {
  const dw = client(pacs().dicomwebUrl);
  const study = first((await dw.searchStudies())[0], '0020000D');
  const series = first((await dw.searchSeries(study))[0], '0020000E');
  const sop = first((await dw.searchInstances(study, series, {}, { limit: 1 }))[0], '00080018');
  return `${pacs().dicomwebUrl}/studies/${study}/series/${series}/instances/${sop}/frames/1`;
}

async function frameAnswer(url: string, tsAsked: string): Promise<{ status: number; contentType: string | null }> {
  const r = await fetch(url, { headers: { Accept: `multipart/related; type="application/octet-stream"; transfer-syntax=${tsAsked}` } });
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
  const parts = readParts(dir, partFiles(dir));
  if (stowAccepts) {
    expect((await dw.storeInstances(parts)).stored).toHaveLength(PART_SLICES);
  } else {
    // The plugin refuses these parts (HTTP 400, no FailedSOPSequence item): StoreError still names every one.
    const err = await dw.storeInstances(parts.slice(0, 2)).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).failed).toHaveLength(2);
    expect((err as StoreError).failed[0].reason).toMatch(/not stored \(HTTP 400\)/);
    // Orthanc's REST API takes them.
    await uploadFiles(pacs(), partFiles(dir));
  }

  // (Every request that reads these JPEG 2000 files takes Orthanc seconds: the frame's URL is looked up once.)
  const frame = await firstFrameUrl();
  expect((await frameAnswer(frame, '1.2.840.10008.1.2.1')).status).toBe(explicitStatus);
  expect((await frameAnswer(frame, '*')).contentType).toContain(`transfer-syntax=${storedSyntax}`);

  const loaded = await volumeFromPacs(dw, originalPart.volume.studyInstanceUID, partRules);
  expectSameVolume(loaded.volume, originalPart.volume);
});
