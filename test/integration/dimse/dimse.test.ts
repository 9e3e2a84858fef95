/**
 * DICOM networking in `lens serve` (issue 14, item 4) against real DCMTK and Orthanc: echoscu and storescu send to
 * the service's own AE title; a sender not on the allow-list is refused; a received study survives a kill of the
 * service between receipt and analysis, is analysed after the restart, and its SR and SEG are sent by C-STORE to
 * DCMTK's storescp standing in for a PACS without DICOMweb (dciodvfy-clean). The C-STORE sink's C-FIND
 * confirmation runs against Orthanc (storescp answers no C-FIND). One Orthanc, one storescp, two service starts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { selectionSchema } from '../../../src/config/schema';
import { loadSelectedVolume } from '../../../src/dicom/load-folder';
import { CommitmentReports } from '../../../src/dimse/commitment-reports';
import { DimseError } from '../../../src/dimse/errors';
import type { Job } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { freePort } from '../../../src/pacs/free-port';
import { DimseReportSink } from '../../../src/pipeline/report-sink';
import type { ReportObjects } from '../../../src/pipeline/stages';
import { buildReportObjects } from '../../../src/report';
import { dciodvfy, syntheticFindings } from '../report/fixtures';
import { journeyOf } from '../service/kill-journey';
import { disposeStack, jobsOf, seriesByModality, ServiceChild, startStack, synthStudy, waitFor, type Stack } from '../service/stack';

const run = promisify(execFile);
const LENS_AE = 'LENSAI';
const SENDER = 'SCANNER1';
const PACS_NO_WEB = 'PACSNOWEB';

let stack: Stack;
let service: ServiceChild | undefined;
let storescp: ChildProcess | undefined;
let scpPort: number;
let storescpPort: number;
let storescpDir: string;
let receivedDir: string;

async function startService(dimse: Record<string, unknown>): Promise<void> {
  const raw = JSON.parse(fs.readFileSync(stack.configFile, 'utf8'));
  raw.dimse = {
    enabled: true, aeTitle: LENS_AE, port: scpPort, allowedCallingAeTitles: [SENDER], quietSeconds: 1,
    destination: { aeTitle: PACS_NO_WEB, port: storescpPort, confirm: false }, ...dimse,
  };
  // A PACS without DICOMweb: no webhook, and the DICOMweb URL points at a closed loopback port, so nothing may
  // depend on it (the workers must not wait for it to answer).
  raw.listener.webhook.enabled = false;
  raw.pacs.dicomwebUrl = 'http://127.0.0.1:9/dicom-web';
  fs.writeFileSync(stack.configFile, JSON.stringify(raw, null, 2));
  service = new ServiceChild(stack);
  await service.start();
  await waitFor(async () => (await echo(SENDER)).ok, 30000, 'the service SCP');
}

async function echo(callingAet: string): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run('echoscu', ['-aet', callingAet, '-aec', LENS_AE, '127.0.0.1', String(scpPort)]);
    return { ok: true, output: r.stdout + r.stderr };
  } catch (e) {
    return { ok: false, output: String((e as Error).message) };
  }
}

function receivedStudies(): string[] {
  return fs.existsSync(receivedDir) ? fs.readdirSync(receivedDir) : [];
}

async function finishedJob(studyUID: string): Promise<Job> {
  return waitFor(
    async () => (await jobsOf(stack, studyUID)).find((j) => ['succeeded', 'failed', 'dead', 'quarantined', 'skipped'].includes(j.state)),
    180000,
    `the job of study ${studyUID}`,
  );
}

beforeAll(async () => {
  // No push, no change feed: studies reach the service only by C-STORE to its own AE title.
  stack = await startStack({ push: false, config: { listener: { changeFeed: { enabled: false } } } });
  scpPort = await freePort();
  receivedDir = path.join(stack.config.workDir, 'dimse', 'studies');
  storescpPort = await freePort();
  storescpDir = path.join(stack.dir, 'storescp');
  fs.mkdirSync(storescpDir);
  storescp = spawn('storescp', ['-aet', PACS_NO_WEB, '-od', storescpDir, String(storescpPort)], { stdio: 'ignore' });
  // A long quiet time: a received study waits, acknowledged and on disk, until the kill in the second test.
  await startService({ quietSeconds: 600 });
}, 120000);

afterAll(async () => {
  await service?.kill('SIGTERM');
  if (storescp && storescp.exitCode === null) {
    const exited = new Promise((r) => storescp!.once('exit', r));
    storescp.kill('SIGTERM');
    await exited;
  }
  await disposeStack(stack);
}, 60000);

test('C-ECHO answers an allowed sender; a sender not on the allow-list is refused and nothing is stored', async () => {
  expect((await echo(SENDER)).ok).toBe(true);
  expect((await echo('INTRUDER')).ok).toBe(false);
  const s = await synthStudy(9311, path.join(stack.dir, 'intruder'), { size: 64, slices: 4 });
  await expect(storescu([s.dir], { port: scpPort, calledAet: LENS_AE, callingAet: 'INTRUDER' })).rejects.toThrow(/storescu failed/);
  // A wrong called AE title is refused as well.
  await expect(storescu([s.dir], { port: scpPort, calledAet: 'NOTLENS', callingAet: SENDER })).rejects.toThrow(/storescu failed/);
  expect(receivedStudies()).toEqual([]);
  expect(await jobsOf(stack, s.studyUID)).toEqual([]);
}, 60000);

test('a study received before a kill is analysed after the restart; its SR and SEG reach storescp by C-STORE', async () => {
  const s = await synthStudy(9302, path.join(stack.dir, 'to-storescp'), { size: 128, slices: 32 });
  await storescu([s.dir], { port: scpPort, calledAet: LENS_AE, callingAet: SENDER });
  // Acknowledged means on disk: every instance is in the study's folder, and no job yet (quiet time not over).
  expect(fs.readdirSync(path.join(receivedDir, s.studyUID))).toHaveLength(32);
  expect(await jobsOf(stack, s.studyUID)).toEqual([]);
  await service!.kill('SIGKILL');

  await startService({});
  const job = await finishedJob(s.studyUID);
  expect(job).toMatchObject({ state: 'succeeded', source: 'dimse', payload: { dimseFolder: `dimse/studies/${s.studyUID}` } });
  // The payload names the folder only: no patient data.
  expect(JSON.stringify(job.payload)).not.toMatch(new RegExp(`${s.patient.id}|PHANTOM`));
  const journey = await journeyOf(stack, job.id);
  expect(journey.find((e) => e.event === 'fetched')?.details?.slices).toBe(32);
  // storescp does not offer storage commitment (storageCommitment 'auto' by default): recorded, nothing waited for.
  expect(journey.find((e) => e.event === 'stored')?.details?.confirmation).toEqual({ by: 'none', storageCommitment: { state: 'not offered' } });
  const files = fs.readdirSync(storescpDir).map((f) => path.join(storescpDir, f));
  // storescp names files <modality prefix>.<SOPInstanceUID>.
  expect(files.map((f) => path.basename(f).replace(/^[A-Z0-9]+\./, '')).sort()).toEqual([job.outputs?.srSopInstanceUID, job.outputs?.segSopInstanceUID].sort());
  for (const f of files) expect(dciodvfy(f).errors).toEqual([]);
  // Only to the C-STORE destination: nothing in the DICOMweb PACS; the received files are removed after the job.
  expect(await seriesByModality(stack, s.studyUID)).toEqual({});
  await waitFor(() => receivedStudies().length === 0, 10000, 'the received files to be removed');
}, 240000);

test('the C-STORE sink confirms by C-FIND on a peer that answers it, recognises a stored report, and fails when the peer cannot confirm', async () => {
  // Orthanc as a PACS reached by DIMSE: it takes C-STORE and answers C-FIND only from known modalities.
  const put = await fetch(`${stack.orthanc.url}/modalities/lens`, { method: 'PUT', body: JSON.stringify({ AET: LENS_AE, Host: '127.0.0.1', Port: scpPort }) });
  expect(put.ok).toBe(true);
  const s = await synthStudy(9312, path.join(stack.dir, 'sink'), { size: 64, slices: 20 });
  const { volume, firstDataset } = await loadSelectedVolume(s.dir, selectionSchema.parse({}));
  const objects = buildReportObjects({ findings: syntheticFindings(volume, 2), volume, sourceDataset: firstDataset });
  const report = { objects } as ReportObjects;
  const scu = { callingAeTitle: LENS_AE, timeoutMs: 20000 };

  const sink = new DimseReportSink({ aeTitle: stack.orthanc.aet, host: '127.0.0.1', port: stack.orthanc.dicomPort, confirm: true }, scu);
  const { locations } = await sink.store(report);
  expect(locations).toEqual([expect.stringMatching(/^seg series .* confirmed by C-FIND$/), expect.stringMatching(/^sr series .* confirmed by C-FIND$/)]);
  const stored = await seriesByModality(stack, s.studyUID);
  expect(stored.SR?.map((x) => x.uid)).toEqual([objects.find((o) => o.role === 'sr')!.seriesInstanceUID]);
  expect(stored.SEG?.map((x) => x.uid)).toEqual([objects.find((o) => o.role === 'seg')!.seriesInstanceUID]);
  // An attempt after a worker died past the C-STORE recognises the report: the SR by C-FIND, its lesions by C-GET.
  const sr = objects.find((o) => o.role === 'sr')!;
  const seg = objects.find((o) => o.role === 'seg')!;
  const uids = { srSeries: sr.seriesInstanceUID, srInstance: sr.sopInstanceUID, segSeries: seg.seriesInstanceUID, segInstance: seg.sopInstanceUID, deviceObserver: '', dimensionOrganization: '' };
  expect(await sink.findStored(s.studyUID, uids)).toEqual({
    outputs: { srSeriesUID: sr.seriesInstanceUID, srSopInstanceUID: sr.sopInstanceUID, segSeriesUID: seg.seriesInstanceUID, segSopInstanceUID: seg.sopInstanceUID },
    lesionCount: 2,
  });
  expect(await sink.findStored(s.studyUID, { ...uids, srInstance: `${sr.sopInstanceUID}.9` })).toBeUndefined();

  // storescp stores but offers no storage commitment and answers no C-FIND: with commitment 'auto' the C-FIND
  // confirmation stands, and one that cannot be had is a failure, not a success; with 'on' the refusal says why.
  const commitment = { mode: 'auto' as const, timeoutMs: 5000, reports: new CommitmentReports(stack.config.workDir) };
  const unconfirmable = new DimseReportSink({ aeTitle: PACS_NO_WEB, host: '127.0.0.1', port: storescpPort, confirm: true }, scu, commitment);
  const err = await unconfirmable.store(report).catch((e) => e);
  expect(err).toBeInstanceOf(DimseError);
  expect(err.message).toMatch(/C-FIND .* no answer/);
  const required = new DimseReportSink({ aeTitle: PACS_NO_WEB, host: '127.0.0.1', port: storescpPort, confirm: true }, scu, { ...commitment, mode: 'on' });
  await expect(required.store(report)).rejects.toMatchObject({ reason: 'dimse-commitment-not-offered', transient: false });
  // A peer that is not listening: transient, retried by the job.
  const down = new DimseReportSink({ aeTitle: 'NOBODY', host: '127.0.0.1', port: await freePort(), confirm: true }, scu);
  await expect(down.store(report)).rejects.toMatchObject({ reason: 'pacs-unreachable', transient: true });
}, 60000);

test('the SR and SEG of a received study are sent to Orthanc, which commits them by storage commitment; recorded in the journey', async () => {
  // Orthanc sends its commitment report on a new association to the AE title it knows for lens-pacs (DicomModalities).
  const put = await fetch(`${stack.orthanc.url}/modalities/lens`, { method: 'PUT', body: JSON.stringify({ AET: LENS_AE, Host: '127.0.0.1', Port: scpPort }) });
  expect(put.ok).toBe(true);
  await service!.kill('SIGTERM');
  await startService({
    quietSeconds: 1,
    destination: { aeTitle: stack.orthanc.aet, port: stack.orthanc.dicomPort, confirm: true, storageCommitment: 'on', commitmentTimeoutMs: 30000 },
  });
  const s = await synthStudy(9313, path.join(stack.dir, 'commit'), { size: 64, slices: 20 });
  await storescu([s.dir], { port: scpPort, calledAet: LENS_AE, callingAet: SENDER });
  const job = await finishedJob(s.studyUID);
  expect(job.state).toBe('succeeded');
  const stored = (await journeyOf(stack, job.id)).find((e) => e.event === 'stored');
  expect(stored?.details?.confirmation).toEqual({
    by: 'storage commitment',
    storageCommitment: { state: 'committed', transactionUID: expect.stringMatching(/^2\.25\.\d+$/), instances: 2, reportedOn: 'new association' },
  });
  const series = await seriesByModality(stack, s.studyUID);
  expect(series.SR?.map((x) => x.uid)).toEqual([job.outputs?.srSeriesUID]);
  expect(series.SEG?.map((x) => x.uid)).toEqual([job.outputs?.segSeriesUID]);
  // The report was taken by the job: nothing left in the mailbox.
  expect(fs.readdirSync(path.join(stack.config.workDir, 'dimse', 'commitments'))).toEqual([]);
}, 180000);
