/**
 * Studies that change, against a real Orthanc (StableAge 1 s) and the service: a series sent in two parts with a
 * pause longer than StableAge ends with one SR and one SEG covering every slice (the first report removed); a
 * later reconstruction that the selection rules prefer replaces the report; the same study sent again is not
 * analysed again, and the skip says why.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Job, JourneyEvent } from '../../../src/jobs/types';
import { storescu } from '../../../src/listener/storescu';
import { api, copyStudy, jobsOf, newUid, seriesByModality, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
const suite = useServiceStack({ push: true, stableAge: 1 });
beforeAll(() => ({ stack } = suite));

const send = (dirs: string[]) => storescu(dirs, { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
const journey = async (id: number) => (await api<{ journey: JourneyEvent[] }>(stack, `/api/jobs/${id}`)).journey;
/** The study's n-th successful analysis (1-based), once every job of the study has ended. */
const nthSuccess = (uid: string, n: number) =>
  waitFor(async () => {
    const jobs = await jobsOf(stack, uid);
    const done = jobs.filter((j) => j.state === 'succeeded');
    return done.length >= n && jobs.every((j) => !['queued', 'running', 'failed-retrying'].includes(j.state)) ? done[n - 1] : undefined;
  }, 240000, `analysis ${n} of ${uid}`);
/** What the SR stored in Orthanc says (its DICOM JSON). */
const srText = async (uid: string, series: string) => JSON.stringify(await (await fetch(`${stack.orthanc.dicomwebUrl}/studies/${uid}/series/${series}/metadata`)).json());

function splitInto(files: string[], dirs: [string, number][]): string[] {
  let i = 0;
  return dirs.map(([dir, n]) => {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of files.slice(i, (i += n))) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    return dir;
  });
}

test('a series sent in two parts: analysed again when the rest arrives; one SR and one SEG covering all slices', async () => {
  const s = await synthStudy(9301, path.join(stack.dir, 'two-parts-src'), { size: 96, slices: 32 });
  const files = [...s.files].sort();
  const [part1, part2] = splitInto(files, [[path.join(stack.dir, 'part1'), 22], [path.join(stack.dir, 'part2'), 10]]);
  await send([part1]);
  const first = await nthSuccess(s.studyUID, 1);
  expect(await srText(s.studyUID, first.outputs!.srSeriesUID!)).toContain(', 22 slices');

  // The rest, long after StableAge: the CT changed, so the study is analysed again (not skipped as our own outputs).
  await send([part2]);
  const second = await nthSuccess(s.studyUID, 2);
  const selected = (await journey(second.id)).find((e) => e.event === 'selected')!;
  expect(selected.details).toMatchObject({
    instances: 32,
    reanalysis: { why: `series ${first.seriesInstanceUID} changed: 10 instances added (22 -> 32)`, previousJobId: first.id },
  });
  const stored = (await journey(second.id)).find((e) => e.event === 'stored')!;
  const old = [first.outputs!.srSeriesUID, first.outputs!.segSeriesUID].filter(Boolean);
  expect(stored.details).toMatchObject({ superseded: { removed: expect.arrayContaining(old), kept: [] } });

  const series = await seriesByModality(stack, s.studyUID);
  expect(series.SR).toEqual([{ uid: second.outputs!.srSeriesUID, instances: 1 }]);
  expect(series.SEG ?? []).toEqual(second.outputs!.segSeriesUID ? [{ uid: second.outputs!.segSeriesUID, instances: 1 }] : []);
  const sr = await srText(s.studyUID, second.outputs!.srSeriesUID!);
  expect(sr).toContain(', 32 slices');
  // The new SR names the one it supersedes (Predecessor Documents Sequence, 0040A360).
  expect(sr).toContain('"0040A360"');
  expect(sr).toContain(first.outputs!.srSopInstanceUID!);

  // Sent again as it is: not analysed again; the skip says it is the same work.
  await send([part1, part2]);
  await new Promise((r) => setTimeout(r, 3000));
  const { jobId } = await api<{ jobId: number }>(stack, '/webhook/orthanc', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-lens-secret': stack.secret }, body: JSON.stringify({ studyInstanceUID: s.studyUID }),
  });
  const resent = await waitFor(async () => (await jobsOf(stack, s.studyUID)).find((j) => j.id === jobId && j.state === 'skipped'), 60000, 'the re-sent study to be skipped');
  expect(resent.lastError).toMatch(new RegExp(`^already analysed: series ${second.seriesInstanceUID}, same 32 instances, same model .* \\(job ${second.id}\\)`));
  expect((await jobsOf(stack, s.studyUID)).filter((j: Job) => j.state === 'succeeded')).toHaveLength(2);
  expect((await seriesByModality(stack, s.studyUID)).SR).toHaveLength(1);
}, 400000);

test('a later reconstruction that the rules prefer replaces the report', async () => {
  const s = await synthStudy(9302, path.join(stack.dir, 'recon-src'), { size: 96, slices: 24 });
  const studyUID = newUid();
  const copy = (name: string, kernel: string) =>
    copyStudy(s.files, path.join(stack.dir, name), {
      studyUID, seriesUID: newUid(), patientName: 'PHANTOM^RECON', patientID: 'PH-RECON', modify: [`(0018,1210)=${kernel}`, '(0020,0011)=3'],
    });
  // First a sharp-kernel reconstruction (ranked after every soft-tissue kernel), then the standard one.
  const sharp = await copy('recon-sharp', 'LUNG');
  await send([path.dirname(sharp[0])]);
  const first = await nthSuccess(studyUID, 1);
  const standard = await copy('recon-standard', 'STANDARD');
  await send([path.dirname(standard[0])]);
  const second = await nthSuccess(studyUID, 2);
  expect(second.seriesInstanceUID).not.toBe(first.seriesInstanceUID);
  const selected = (await journey(second.id)).find((e) => e.event === 'selected')!;
  expect((selected.details as { reanalysis: { why: string } }).reanalysis.why).toBe(
    `series ${second.seriesInstanceUID} (24 instances) is now preferred over series ${first.seriesInstanceUID} (24 instances)`,
  );
  const series = await seriesByModality(stack, studyUID);
  expect(series.CT).toHaveLength(2);
  expect(series.SR).toEqual([{ uid: second.outputs!.srSeriesUID, instances: 1 }]);
  expect((series.SEG ?? []).map((x) => x.uid)).toEqual(second.outputs!.segSeriesUID ? [second.outputs!.segSeriesUID] : []);
}, 400000);
