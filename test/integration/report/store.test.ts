/**
 * SR and SEG stored into a real Orthanc by STOW-RS next to their CT: read back unchanged, one SR series and one SEG
 * series in the study, and storing the same analysis again leaves the same instances.
 */
import fs from 'node:fs';
import path from 'node:path';
import { useOrthanc, uploadFiles } from '../../helpers/orthanc';
import { configSchema } from '../../../src/config/schema';
import { DicomWebClient } from '../../../src/pacs/dicomweb';
import { buildReportObjects, storeAndVerify } from '../../../src/report';
import { LUNG_SERIES3, loadLungCase } from './fixtures';

const pacs = useOrthanc();

async function orthancGet(p: string): Promise<any> {
  const r = await fetch(`${pacs().url}${p}`);
  if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
  return r.json();
}

test('store, read back, re-store without duplicates', async () => {
  const { volume, sourceDataset, findings } = await loadLungCase();
  await uploadFiles(pacs(), fs.readdirSync(LUNG_SERIES3).filter((f) => f.endsWith('.dcm')).map((f) => path.join(LUNG_SERIES3, f)));
  const client = new DicomWebClient(configSchema.parse({ pacs: { dicomwebUrl: pacs().dicomwebUrl, retries: 1, retryBaseMs: 20 } }).pacs);

  const objects = buildReportObjects({ findings, volume, sourceDataset });
  expect(objects.map((o) => o.role)).toEqual(['sr', 'seg']);
  const first = await storeAndVerify(client, objects);
  expect(first.verified.map((v) => v.sopInstanceUID)).toEqual(objects.map((o) => o.sopInstanceUID));

  // Byte for byte what we sent.
  for (const o of objects) {
    const [id] = await (await fetch(`${pacs().url}/tools/lookup`, { method: 'POST', body: o.sopInstanceUID })).json();
    const stored = Buffer.from(await (await fetch(`${pacs().url}/instances/${id.ID}/file`)).arrayBuffer());
    expect(stored.equals(o.part10)).toBe(true);
  }

  const seriesOf = async () => {
    const [study] = await orthancGet('/studies?expand');
    const series = await Promise.all(study.Series.map((s: string) => orthancGet(`/series/${s}`)));
    return series.map((s: any) => ({ modality: s.MainDicomTags.Modality, instances: s.Instances.length })).sort((a, b) => a.modality.localeCompare(b.modality));
  };
  const before = await seriesOf();
  expect(before).toEqual([
    { modality: 'CT', instances: volume.slices.length },
    { modality: 'SEG', instances: 1 },
    { modality: 'SR', instances: 1 },
  ]);

  // The same analysis again, built anew (new content time): same UIDs, replaced in place.
  const again = buildReportObjects({ findings, volume, sourceDataset, contentDate: new Date(Date.now() + 60000) });
  expect(again.map((o) => o.sopInstanceUID)).toEqual(objects.map((o) => o.sopInstanceUID));
  await storeAndVerify(client, again);
  expect(await seriesOf()).toEqual(before);
  expect((await orthancGet('/statistics')).CountInstances).toBe(volume.slices.length + 2);
});
