/**
 * Every WADO-RS metadata request of a job, counted by a loopback HTTP proxy between `lens serve` and a real Orthanc.
 * The study holds two CT series (lung-dx-a0001's two reconstructions) and a non-CT series: per job, the metadata
 * of each CT series is asked for exactly once (the fetch stage reads only frames), the non-CT series' never, and no
 * request is repeated; the SR and SEG are read back once each by the store stage's verification. The dashboard's
 * key slice picture asks for that one instance's metadata, not for the series'.
 * Jobs are started through the API only (no push, no change feed): with one worker they run one after the other,
 * and each begins with its QIDO-RS series search, which splits the proxy's log into jobs.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Job } from '../../../src/jobs/types';
import { uploadFiles } from '../../helpers/orthanc';
import { api, copyStudy, jobsOf, newUid, SHARED_CT, type StackOptions, useServiceStack, waitFor } from './stack';

const LUNG = path.join(SHARED_CT, 'lung-dx-a0001');
const dcmFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(dir, f));

/** Request lines (method and path) that passed through the proxy, in order. */
const requests: string[] = [];
let proxy: http.Server | undefined;
const options: StackOptions = { push: false, orthancRest: false, config: { listener: { changeFeed: { enabled: false } } } };

// Registered before useServiceStack's hooks, so the service is configured with the proxy's address.
beforeAll(async () => {
  proxy = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const target = new URL(suite.stack.orthanc.url);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', () => resolve()));
  options.config!.pacs = { dicomwebUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/dicom-web` };
});
afterAll(() => new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve())));
const suite = useServiceStack(options);

const studyUID = newUid();
const ct = [newUid(), newUid()];
const other = newUid();

/** The series whose metadata each request of `lines` asks for, and the instances asked for one by one. */
function metadataRequests(lines: string[]): { series: string[]; instances: string[] } {
  const series: string[] = [];
  const instances: string[] = [];
  for (const l of lines) {
    const i = /^GET \S*\/series\/[\d.]+\/instances\/([\d.]+)\/metadata/.exec(l);
    const s = /^GET \S*\/series\/([\d.]+)\/metadata/.exec(l);
    if (i) instances.push(i[1]);
    else if (s) series.push(s[1]);
  }
  return { series, instances };
}

/** The proxy's log cut into jobs: each job starts with the first page of the QIDO-RS search of the study's series. */
function perJob(): string[][] {
  const search = new RegExp(`^GET \\S*/studies/${studyUID.replace(/\./g, '\\.')}/series(\\?|$)`);
  const jobs: string[][] = [];
  for (const l of requests) {
    if (search.test(l) && !/[?&]offset=/.test(l)) jobs.push([]);
    jobs.at(-1)?.push(l);
  }
  return jobs;
}

const finished = (uid: string, n: number) =>
  waitFor(async () => {
    const jobs = (await jobsOf(suite.stack, uid)).filter((j) => ['succeeded', 'skipped', 'failed', 'dead'].includes(j.state));
    return jobs.length >= n ? jobs : undefined;
  }, 240000, `${n} finished job(s) for the study`);

let jobs: Job[];

beforeAll(async () => {
  const dir = path.join(suite.stack.dir, 'study');
  const patient = { patientName: 'PHANTOM^METADATA', patientID: 'PHX-META' };
  // 24 contiguous slices of each reconstruction (the rules want 20): the stages' work, not its size, is counted.
  const part = (folder: string) => dcmFiles(path.join(LUNG, folder)).slice(16, 40);
  const files = [
    ...(await copyStudy(part('series2_5mm_kernelL'), path.join(dir, 'ct1'), { studyUID, seriesUID: ct[0], ...patient })),
    ...(await copyStudy(part('series3_5mm_kernelB'), path.join(dir, 'ct2'), { studyUID, seriesUID: ct[1], ...patient })),
    // A non-CT series: three slices relabelled MR (new SOP Instance UIDs, as every copy gets).
    ...(await copyStudy(dcmFiles(path.join(LUNG, 'series3_5mm_kernelB')).slice(0, 3), path.join(dir, 'mr'), { studyUID, seriesUID: other, ...patient, modify: ['(0008,0060)=MR'] })),
  ];
  await uploadFiles(suite.stack.orthanc, files);
  requests.length = 0;
  // Two jobs of the same study: the second (a forced re-run) also finds our SR and SEG in it.
  await api(suite.stack, `/api/studies/${studyUID}/rerun`, { method: 'POST' });
  await finished(studyUID, 1);
  await api(suite.stack, `/api/studies/${studyUID}/rerun`, { method: 'POST' });
  jobs = await finished(studyUID, 2);
}, 480000);

test('each job asks for the metadata of each CT series once, of the non-CT series never, and repeats nothing', () => {
  expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
  const segments = perJob();
  expect(segments).toHaveLength(2);
  for (const [n, lines] of segments.entries()) {
    const { series, instances } = metadataRequests(lines);
    const job = jobs[n];
    const outputs = [job.outputs?.srSeriesUID, job.outputs?.segSeriesUID].filter((s): s is string => !!s);
    expect(outputs.length).toBeGreaterThan(0);
    // The candidates once each (select), the objects stored once each (verify): nothing else, nothing twice.
    expect([...series].sort()).toEqual([...ct, ...outputs].sort());
    expect(series).not.toContain(other);
    expect(instances).toEqual([]);
    // Frames were read for the chosen series only.
    const framesOf = new Set(lines.map((l) => /\/series\/([\d.]+)\/instances\/[\d.]+\/frames\//.exec(l)?.[1]).filter(Boolean));
    expect([...framesOf]).toEqual([job.outputs?.seriesInstanceUID]);
  }
});

test('the dashboard\'s key slice picture reads one instance\'s metadata, not the series\'', async () => {
  const job = jobs[1];
  const lesion = job.lesions?.[0];
  expect(lesion).toBeDefined();
  const before = requests.length;
  const r = await fetch(`${suite.stack.serviceUrl}/dashboard/jobs/${job.id}/lesions/${lesion!.id}.png`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toContain('image/png');
  const { series, instances } = metadataRequests(requests.slice(before));
  expect(series).toEqual([]);
  expect(instances).toEqual([lesion!.keySlice.sopInstanceUID]);
});
