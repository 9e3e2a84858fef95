/**
 * A real poison file sent to the running service (issue 11, item 1): one CT slice whose NumberOfFrames claims
 * 100000000 frames, stored in Orthanc inside an otherwise good series. Before the input limits, building its frame
 * list exhausted V8's memory and killed the service in a loop. Now the service must stay up (same process), analyse
 * the study from its good slices with the bad instance set aside and counted in the journey, and analyse a study
 * sent after it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { storescu } from '../../../src/listener/storescu';
import { journeyOf } from './kill-journey';
import { jobsOf, newUid, seriesByModality, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

let stack: Stack;
const suite = useServiceStack({ push: true, stableAge: 1 });
beforeAll(() => {
  ({ stack } = suite);
});

async function healthy(): Promise<boolean> {
  return (await fetch(`${stack.serviceUrl}/healthz`)).ok;
}

test('a slice claiming 100000000 frames is set aside; the service stays up and analyses this study and the next', async () => {
  const poisoned = await synthStudy(9301, path.join(stack.dir, 'poisoned'), { size: 128, slices: 32 });
  // The poison: a copy of one slice with its own SOP instance UID and an absurd frame count (DCMTK's dcmodify).
  const poisonFile = path.join(poisoned.dir, 'poison.dcm');
  fs.copyFileSync(poisoned.files[0], poisonFile);
  execFileSync('dcmodify', ['-nb', '-i', '(0028,0008)=100000000', '-m', `(0008,0018)=${newUid()}`, poisonFile]);
  await storescu([poisoned.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });

  const job = await waitFor(async () => (await jobsOf(stack, poisoned.studyUID)).find((j) => j.state === 'succeeded' || j.state === 'failed' || j.state === 'dead' || j.state === 'quarantined'), 240000, 'the poisoned study');
  expect(job.state).toBe('succeeded');
  // One attempt, no worker death: the service was never killed by the file.
  expect(job.attempts).toBe(1);
  expect(job.deaths ?? {}).toEqual({});
  const journey = await journeyOf(stack, job.id);
  expect(journey.filter((e) => e.event === 'claimed')).toHaveLength(1);
  // The journey counts the instance whose metadata was refused; the volume holds only the 32 good slices.
  expect(journey.find((e) => e.event === 'selected')?.details).toMatchObject({ unreadableInstances: 1 });
  const fetched = journey.find((e) => e.event === 'fetched');
  expect(fetched?.details?.slices).toBe(32);
  const outputs = await seriesByModality(stack, poisoned.studyUID);
  expect(outputs.SR).toHaveLength(1);
  expect(outputs.SEG).toHaveLength(1);

  const next = await synthStudy(9302, path.join(stack.dir, 'next'), { size: 128, slices: 32 });
  await storescu([next.dir], { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  const done = await waitFor(async () => (await jobsOf(stack, next.studyUID)).find((j) => j.state === 'succeeded'), 240000, 'the next study');
  expect(done.attempts).toBe(1);
  expect(await healthy()).toBe(true);
}, 600000);
