/**
 * The C-STORE SCP's refusals and what it keeps, against DCMTK's storescu and echoscu (no service, no model): the
 * dataset is kept byte for byte as sent; the disk watermark and the study quota answer A700 and leave nothing
 * behind; associations beyond dimse.maxAssociations are refused. Real SQLite job store, real files.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CommitmentReports } from '../../../src/dimse/commitment-reports';
import { ReceivedFiles } from '../../../src/dimse/received-files';
import { DimseScp } from '../../../src/dimse/scp';
import { ReceivedStudyTracker } from '../../../src/dimse/study-tracker';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { freePort } from '../../../src/pacs/free-port';
import { synthStudy } from '../service/stack';

const run = promisify(execFile);
const AE = 'LENSAI';
const SENDER = 'SCANNER1';
/** The results' destination: it may associate to send storage commitment reports, nothing else. */
const DESTINATION = 'PACSDEST';

let dir: string;
let store: SqliteJobStore;
let files: ReceivedFiles;
let tracker: ReceivedStudyTracker;
let scp: DimseScp;
let intakeClosed: string | undefined;
let study: Awaited<ReturnType<typeof synthStudy>>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-scp-'));
  store = new SqliteJobStore({ file: path.join(dir, 'jobs.sqlite'), maxAttempts: 2, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  files = new ReceivedFiles(path.join(dir, 'work'));
  study = await synthStudy(9313, path.join(dir, 'study'), { size: 64, slices: 6 });
  const fileBytes = fs.statSync(study.files[0]).size;
  // Room for three instances of the study: the rest must be refused.
  tracker = new ReceivedStudyTracker({
    files, store, enqueue: (r) => store.enqueue(r), quietMs: 600000, keepReceived: 'failed', maxStudyBytes: 3.5 * fileBytes, maxTotalBytes: 1e9,
  });
  await tracker.start();
  scp = new DimseScp({
    aeTitle: AE, host: '127.0.0.1', port: await freePort(), allowedCallingAeTitles: [SENDER], maxAssociations: 1,
    maxInstanceBytes: 1e9, maxTotalBytes: 1e9, files, tracker, intakeClosed: () => intakeClosed,
    commitmentFrom: { aeTitle: DESTINATION, reports: new CommitmentReports(path.join(dir, 'work')) },
  });
  await scp.start();
});

afterAll(async () => {
  await scp?.stop();
  await tracker?.stop();
  await store?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function send(paths: string[], callingAet = SENDER): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run('storescu', ['-v', '-aet', callingAet, '-aec', AE, '-nh', '127.0.0.1', String(scp.port), ...paths]);
    return { ok: true, output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${err.message}\n${err.stderr ?? ''}` };
  }
}

const kept = () => (fs.existsSync(files.studyDir(study.studyUID)) ? fs.readdirSync(files.studyDir(study.studyUID)).sort() : []);

test('while intake is stopped (disk watermark) every instance is refused with A700 and nothing is kept', async () => {
  intakeClosed = 'intake stopped (disk-low)';
  const r = await send([study.files[0]]);
  intakeClosed = undefined;
  expect(r.output).toMatch(/Refused: OutOfResources|0xa700/i);
  expect(kept()).toEqual([]);
  expect(fs.readdirSync(files.tmpDir)).toEqual([]);
});

test('instances are kept byte for byte as sent, up to the study quota; beyond it A700 and nothing kept', async () => {
  const r = await send(study.files);
  expect(r.output).toMatch(/Refused: OutOfResources|0xa700/i);
  const names = kept();
  expect(names).toHaveLength(3);
  // The dataset after the File Meta group is the sender's, unchanged (no re-encoding).
  const datasetOf = (b: Buffer) => b.subarray(132 + 12 + b.readUInt32LE(140));
  for (const f of study.files.slice(0, 3)) {
    const sent = fs.readFileSync(f);
    const sop = names.find((n) => sent.includes(Buffer.from(n.replace(/\.dcm$/, ''))))!;
    expect(sop).toBeDefined();
    expect(datasetOf(fs.readFileSync(path.join(files.studyDir(study.studyUID), sop))).equals(datasetOf(sent))).toBe(true);
  }
  expect(fs.readdirSync(files.tmpDir)).toEqual([]);
});

test('an association beyond dimse.maxAssociations is refused while another is open', async () => {
  const echo = () => run('echoscu', ['-aet', SENDER, '-aec', AE, '127.0.0.1', String(scp.port)]).then(() => true, () => false);
  expect(await echo()).toBe(true);
  const holder = net.connect(scp.port, '127.0.0.1');
  await new Promise((r) => holder.once('connect', r));
  expect(await echo()).toBe(false);
  holder.destroy();
  await new Promise((r) => setTimeout(r, 100));
  expect(await echo()).toBe(true);
});

test('the destination of results may associate (for its commitment reports) but not store', async () => {
  expect(await run('echoscu', ['-aet', DESTINATION, '-aec', AE, '127.0.0.1', String(scp.port)]).then(() => true, () => false)).toBe(true);
  const before = kept();
  const other = await synthStudy(9314, path.join(dir, 'from-destination'), { size: 32, slices: 1 });
  const r = await send(other.files, DESTINATION);
  expect(r.ok).toBe(false);
  expect(r.output).toMatch(/No Acceptable Presentation Contexts/);
  expect(kept()).toEqual(before);
  expect(fs.existsSync(files.studyDir(other.studyUID))).toBe(false);
});
