/**
 * The received-study folder (src/dimse/received-files.ts), the File Meta header written in front of a received
 * dataset, and the tracker that turns quiet studies into jobs and cleans up after them (study-tracker.ts), with the
 * real SQLite job store and real files. The SCP itself is tested against DCMTK in test/integration/dimse.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readPart10 } from '../../../src/dicom/part10';
import { fileMetaHeader } from '../../../src/dimse/file-meta';
import { ReceivedFiles } from '../../../src/dimse/received-files';
import { ReceivedStudyTracker, type KeepReceived } from '../../../src/dimse/study-tracker';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import type { JobCompletion } from '../../../src/jobs/types';
import { toPart10 } from '../../../src/report/part10';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.2';
let dir: string;
let store: SqliteJobStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-dimse-'));
  store = new SqliteJobStore({ file: path.join(dir, 'jobs.sqlite'), maxAttempts: 2, backoff: { baseSeconds: 1, maxSeconds: 1 } });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The dataset bytes of a Part 10 buffer (what arrives over the network): everything after group 0002. */
function datasetBytes(part10: Buffer): Buffer {
  const groupLength = part10.readUInt32LE(132 + 8);
  return part10.subarray(132 + 12 + groupLength);
}

async function receivedFile(files: ReceivedFiles, sop: string): Promise<string> {
  const tmp = files.newTempFile();
  const ds = datasetBytes(toPart10({ SOPClassUID: SOP_CLASS, SOPInstanceUID: sop, StudyInstanceUID: STUDY, Modality: 'CT' }));
  fs.writeFileSync(tmp, Buffer.concat([fileMetaHeader({ sopClassUID: SOP_CLASS, sopInstanceUID: sop, transferSyntaxUID: '1.2.840.10008.1.2.1', sourceAeTitle: 'SCANNER1' }), ds]));
  return tmp;
}

function tracker(files: ReceivedFiles, o: { keep?: KeepReceived; maxStudyBytes?: number } = {}) {
  return new ReceivedStudyTracker({
    files, store, enqueue: (r) => store.enqueue(r), quietMs: 1000, keepReceived: o.keep ?? 'failed',
    maxStudyBytes: o.maxStudyBytes ?? 1e9, maxTotalBytes: 1e9, tickMs: 1e9,
  });
}

async function finish(jobId: number, result: JobCompletion): Promise<void> {
  const job = await store.claim('test', 60000);
  expect(job?.id).toBe(jobId);
  await store.complete(jobId, 'test', result);
}
const succeeded: JobCompletion = { kind: 'succeeded', outputs: {}, lesions: [], timingsMs: {}, idempotencyKey: 'k', seriesInstanceUID: '1.2.3', modelVersion: 'm-1' };

test('a received dataset behind the written File Meta header reads back as the Part 10 file it was', async () => {
  const files = new ReceivedFiles(dir);
  await files.prepare();
  const r = readPart10(fs.readFileSync(await receivedFile(files, '1.2.3.4')), { headerOnly: true });
  if (typeof r === 'string') throw new Error(r);
  expect(r.meta).toMatchObject({ MediaStorageSOPClassUID: SOP_CLASS, MediaStorageSOPInstanceUID: '1.2.3.4', TransferSyntaxUID: '1.2.840.10008.1.2.1', SourceApplicationEntityTitle: 'SCANNER1' });
  expect(r.dataset).toMatchObject({ StudyInstanceUID: STUDY, SOPInstanceUID: '1.2.3.4' });
});

test('a job payload names only a received study folder of this work dir', () => {
  const files = new ReceivedFiles(dir);
  expect(files.resolvePayloadDir(`dimse/studies/${STUDY}`)).toBe(path.join(dir, 'dimse', 'studies', STUDY));
  for (const bad of ['dimse/studies/../../etc', '/etc/passwd', 'dimse/studies/1.2/x', 'other/studies/1.2', 'dimse/studies/a.b', 42]) {
    expect(() => files.resolvePayloadDir(bad)).toThrow(/not a received study folder|no dimseFolder/);
  }
});

test('quiet study -> one job with its folder; removed after success; a restart resumes the job record', async () => {
  const files = new ReceivedFiles(dir);
  const t = tracker(files);
  await t.start();
  for (const sop of ['1.2.3.1', '1.2.3.2']) {
    expect(await t.admit(STUDY, 100, async () => files.commit(await receivedFile(files, sop), STUDY, sop))).toBeUndefined();
  }
  await t.tick(Date.now());
  expect(await store.list()).toEqual([]);
  await t.tick(Date.now() + 1500);
  const [job] = await store.list();
  expect(job).toMatchObject({ source: 'dimse', studyInstanceUID: STUDY, payload: { dimseFolder: `dimse/studies/${STUDY}` } });
  await t.stop();

  // A restart: the folder and its job record are found; a leftover partial file is dropped.
  fs.writeFileSync(path.join(files.tmpDir, 'x.part'), 'partial');
  const again = tracker(files);
  await again.start();
  expect(fs.readdirSync(files.tmpDir)).toEqual([]);
  await again.tick(Date.now() + 5000);
  expect(await store.list()).toHaveLength(1);
  expect(fs.readdirSync(files.studyDir(STUDY))).toHaveLength(2);
  await finish(job.id, succeeded);
  await again.tick(Date.now() + 5000);
  expect(fs.existsSync(files.studyDir(STUDY))).toBe(false);
  expect(fs.existsSync(`${files.studyDir(STUDY)}.json`)).toBe(false);
  await again.stop();
});

test('a failed study is kept (keepReceived failed); instances beyond the study quota are refused and not stored', async () => {
  const files = new ReceivedFiles(dir);
  const t = tracker(files, { maxStudyBytes: 150 });
  await t.start();
  expect(await t.admit(STUDY, 100, async () => files.commit(await receivedFile(files, '1.2.3.1'), STUDY, '1.2.3.1'))).toBeUndefined();
  const tmp = await receivedFile(files, '1.2.3.2');
  expect(await t.admit(STUDY, 100, () => files.commit(tmp, STUDY, '1.2.3.2'))).toMatch(/dimse.maxStudyMb/);
  expect(fs.readdirSync(files.studyDir(STUDY))).toEqual(['1.2.3.1.dcm']);
  await t.tick(Date.now() + 1500);
  const [job] = await store.list();
  await finish(job.id, { kind: 'failed', reason: 'x', message: 'no CT', transient: false });
  await t.tick(Date.now() + 3000);
  expect(fs.readdirSync(files.studyDir(STUDY))).toEqual(['1.2.3.1.dcm']);
  await t.stop();
});
