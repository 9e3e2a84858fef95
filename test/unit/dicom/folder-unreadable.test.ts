/**
 * Folder reading never drops a file silently: a file that cannot be read is listed with its reason, and when the
 * readable part of it names its series (a truncated slice), that series lists it as excluded.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scanDicomFolder } from '../../../src/dicom/load-folder';
import { identifyPart10 } from '../../../src/dicom/part10';

const SERIES = path.resolve(__dirname, '../../../../shared/data/ct/lung-dx-a0001/series3_5mm_kernelB');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-unreadable-'));
  const files = fs.readdirSync(SERIES).filter((f) => f.endsWith('.dcm')).sort().slice(0, 3);
  for (const f of files.slice(0, 2)) fs.copyFileSync(path.join(SERIES, f), path.join(dir, f));
  const last = fs.readFileSync(path.join(SERIES, files[2]));
  fs.writeFileSync(path.join(dir, 'cut.dcm'), last.subarray(0, last.length - 1000));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not DICOM');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a truncated slice is excluded from its series by name; a file of no series is listed only', async () => {
  const scan = await scanDicomFolder(dir);
  expect(scan.series).toHaveLength(1);
  const [s] = scan.series;
  expect(s.instances).toHaveLength(2);
  const cut = identifyPart10(fs.readFileSync(path.join(dir, 'cut.dcm')));
  expect(cut.seriesInstanceUID).toBe(s.seriesInstanceUID);
  expect(s.excluded).toEqual([{ sopInstanceUID: cut.sopInstanceUID, file: 'cut.dcm', reason: expect.stringMatching(/^truncated: element \(7FE0,0010\) says 524288 bytes/) }]);
  expect(scan.unreadable.map((u) => path.basename(u.file)).sort()).toEqual(['cut.dcm', 'notes.txt']);
  expect(scan.unreadable.find((u) => u.file.endsWith('notes.txt'))).not.toHaveProperty('seriesInstanceUID');
});
