import fs from 'node:fs';
import { useOrthanc } from '../../helpers/orthanc';

const pacs = useOrthanc();

test('a real Orthanc with the DICOMweb plugin answers on loopback', async () => {
  const sys = await (await fetch(`${pacs().url}/system`)).json();
  expect(sys.Version).toMatch(/^1\./);
  const plugins = await (await fetch(`${pacs().url}/plugins`)).json();
  expect(plugins).toContain('dicom-web');
  const studies = await fetch(`${pacs().dicomwebUrl}/studies`);
  expect([200, 204]).toContain(studies.status);
});

test('stop and launch keep the data folder and ports', async () => {
  const o = pacs();
  await o.stop();
  await expect(fetch(`${o.url}/system`)).rejects.toThrow();
  await o.launch();
  expect((await fetch(`${o.url}/system`)).ok).toBe(true);
  expect(fs.existsSync(o.dir)).toBe(true);
});
