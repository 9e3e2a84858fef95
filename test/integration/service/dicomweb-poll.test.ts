/**
 * A plain DICOMweb PACS (no `orthanc` section, change feed and webhook off): QIDO-RS polling alone finds every
 * study. A CT is analysed once with its SR and SEG stored once; a study sent days after it was acquired and
 * arriving after several polls is found too (overlapping windows reaching back whole StudyDate days); our own
 * SR/SEG never cause another analysis; the poller keeps going while the PACS is unreachable.
 */
import path from 'node:path';
import { dicomDate } from '../../../src/listener/poll-window';
import { uploadFiles } from '../../helpers/orthanc';
import { jobsOf, seriesByModality, ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
let service: ServiceChild;

const daysFromToday = (n: number) => {
  const d = new Date();
  return dicomDate(new Date(d.getFullYear(), d.getMonth(), d.getDate() + n));
};

const suite = useServiceStack({
  push: false,
  orthancRest: false,
  stableAge: 1,
  config: {
    listener: {
      webhook: { enabled: false },
      changeFeed: { enabled: false },
      dicomwebPoll: { enabled: true, intervalMs: 700, lookbackMinutes: 5, studyDateLookbackDays: 7 },
    },
  },
});
beforeAll(() => {
  ({ stack, service } = suite);
  expect(stack.config.orthanc).toBeUndefined();
});

/** Stores a small synthetic CT study into the PACS (Orthanc's REST upload, not a DICOMweb event of any kind). */
async function store(seed: number, studyDate: string): Promise<string> {
  const s = await synthStudy(seed, path.join(stack.dir, `poll-${seed}`), { size: 64, slices: 24, studyDate });
  await uploadFiles(stack.orthanc, s.files);
  return s.studyUID;
}

const succeeded = (uid: string, timeoutMs = 180000) =>
  waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), timeoutMs, `success of ${uid}`);

async function expectAnalysedOnce(uid: string): Promise<void> {
  const jobs = await jobsOf(stack, uid);
  expect(jobs).toHaveLength(1);
  expect(jobs[0]).toMatchObject({ state: 'succeeded', source: 'poll' });
  const series = await seriesByModality(stack, uid);
  expect(series.SR).toEqual([{ uid: jobs[0].outputs!.srSeriesUID, instances: 1 }]);
  if (jobs[0].lesionCount! > 0) expect(series.SEG).toEqual([{ uid: jobs[0].outputs!.segSeriesUID, instances: 1 }]);
  else expect(series.SEG).toBeUndefined();
}

let first: string;
let late: string;

test('a CT stored into a DICOMweb-only PACS is found by polling and analysed; SR and SEG appear once', async () => {
  first = await store(9301, daysFromToday(0));
  const job = await succeeded(first);
  expect(job.source).toBe('poll');
  await expectAnalysedOnce(first);
}, 240000);

test('a study acquired days ago and arriving after several polls is found; our own SR/SEG caused no second analysis', async () => {
  late = await store(9302, daysFromToday(-3));
  await succeeded(late);
  // The late study was enqueued only after two polls that both came after the first study's SR/SEG were stored:
  // had those outputs made the first study look new, it would have been enqueued by then.
  await expectAnalysedOnce(first);
  await expectAnalysedOnce(late);
}, 240000);

test('the poller keeps going while the PACS is unreachable; a study stored afterwards is found', async () => {
  const failures = () => service.output().split('DICOMweb poll failed').length - 1;
  const before = failures();
  await stack.orthanc.stop();
  try {
    await waitFor(() => failures() >= before + 2, 60000, 'polls to fail while the PACS is down');
  } finally {
    await stack.orthanc.launch();
  }
  // A scanner clock a day ahead: the open-ended StudyDate range still matches.
  const after = await store(9303, daysFromToday(1));
  await succeeded(after);
  for (const uid of [first, late, after]) await expectAnalysedOnce(uid);
  const { jobs } = await (await fetch(`${stack.serviceUrl}/api/jobs?limit=50`)).json();
  expect(jobs).toHaveLength(3);
}, 300000);
