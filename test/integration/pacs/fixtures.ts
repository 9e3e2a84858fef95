/** Shared pieces of the PACS integration tests: real CT paths, Part 10 buffers, a client for a test Orthanc. */
import fs from 'node:fs';
import path from 'node:path';
import { configSchema, type LensConfig, type SelectionRules } from '../../../src/config/schema';
import { selectSeries } from '../../../src/dicom/select-series';
import type { Volume } from '../../../src/dicom/volume';
import { DicomWebClient } from '../../../src/pacs/dicomweb';
import { selectStage } from '../../../src/pipeline/select-stage';
import type { FetchedVolume } from '../../../src/pipeline/stages';
import { fetchStage } from '../../../src/pipeline/study-pipeline';
import { DicomWebStudySource } from '../../../src/source/dicomweb-source';

export const CT = path.resolve(__dirname, '../../../../shared/data/ct');
export const LUNG_SERIES2 = path.join(CT, 'lung-dx-a0001/series2_5mm_kernelL');
export const LUNG_COMPRESSED = path.join(CT, 'lung-dx-a0001-compressed');

export const rules = configSchema.parse({}).selection;

export function pacsConfig(dicomwebUrl: string, over: Partial<LensConfig['pacs']> = {}): LensConfig['pacs'] {
  return configSchema.parse({ pacs: { dicomwebUrl, retries: 2, retryBaseMs: 20, ...over } }).pacs;
}

export function client(dicomwebUrl: string, over: Partial<LensConfig['pacs']> = {}): DicomWebClient {
  return new DicomWebClient(pacsConfig(dicomwebUrl, over));
}

/** The volume of a study in the PACS as the service's select and fetch stages read it. */
export async function volumeFromPacs(dw: DicomWebClient, studyInstanceUID: string, selection: SelectionRules = rules): Promise<FetchedVolume> {
  const source = new DicomWebStudySource(dw);
  const select = selectStage({ modelVersion: 'test-1', rules: selection, source, selectSeries, findSucceeded: async () => undefined });
  return fetchStage(source).run(await select.run({ studyInstanceUID, force: true }));
}

/** The Part 10 files of `dir` (or just `files`), in name order, as STOW-RS parts. */
export function readParts(dir: string, files?: string[]): ArrayBuffer[] {
  const paths = files ?? fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(dir, f));
  return paths.map((f) => {
    const b = fs.readFileSync(f);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  });
}

export const first = (ds: Record<string, { Value?: unknown[] }>, tag: string) => ds[tag]?.Value?.[0] as string;

/** Same voxels and same geometry; the voxel comparison reports the first difference instead of a huge diff. */
export function expectSameVolume(actual: Volume, expected: Volume): void {
  expect(actual.dims).toEqual(expected.dims);
  expect(actual.spacing).toEqual(expected.spacing);
  expect(actual.origin).toEqual(expected.origin);
  expect(actual.direction).toEqual(expected.direction);
  expect(actual.slices.map((s) => s.sopInstanceUID)).toEqual(expected.slices.map((s) => s.sopInstanceUID));
  expect(actual.frameOfReferenceUID).toBe(expected.frameOfReferenceUID);
  expect(actual.data.length).toBe(expected.data.length);
  const diff = actual.data.findIndex((v, i) => v !== expected.data[i]);
  expect(diff === -1 ? 'identical' : `first difference at voxel ${diff}: ${actual.data[diff]} vs ${expected.data[diff]}`).toBe('identical');
}
