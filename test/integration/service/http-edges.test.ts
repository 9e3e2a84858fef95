/**
 * The edges of the running service (`lens serve` beside a real Orthanc): malformed and oversized webhook bodies,
 * a wrong secret (refused before the body is read), array query parameters, a 60000-digit "UID" and non-decimal
 * job ids all answer JSON errors without stack traces or paths, and nothing of them is stored; Orthanc's shipped
 * configuration accepts C-STORE only from the listed sender (LENSSCANNER, what the demo and the tests send as).
 */
import path from 'node:path';
import { storescu } from '../../../src/listener/storescu';
import { jobsOf, REPO, type Stack, synthStudy, useServiceStack } from './stack';

const suite = useServiceStack({ push: false, config: { listener: { changeFeed: { enabled: false } } } });
let stack: Stack;
beforeAll(() => {
  ({ stack } = suite);
});

/** JSON with an error string; nothing of the server's files, code or HTML error pages. */
async function jsonError(r: Response, status: number): Promise<string> {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
  const text = await r.text();
  expect(text).not.toContain(REPO);
  expect(text).not.toMatch(/node_modules|\bat [\w.<>]+ \(|<html|<pre|stack/i);
  return (JSON.parse(text) as { error: string }).error;
}

const hook = (body: string, secret = stack.secret) =>
  fetch(`${stack.serviceUrl}/webhook/orthanc`, { method: 'POST', headers: { 'content-type': 'application/json', 'X-Lens-Secret': secret }, body });
const get = (p: string) => fetch(`${stack.serviceUrl}${p}`);

test('webhook: malformed, oversized, wrong secret and a 60000-digit UID: JSON errors, nothing stored', async () => {
  expect(await jsonError(await hook('{"studyInstanceUID": "1.2'), 400)).toMatch(/not valid JSON/);
  expect(await jsonError(await hook(JSON.stringify({ studyInstanceUID: '1'.repeat(60000) })), 413)).toMatch(/larger than/);
  expect(await jsonError(await hook('{"studyInstanceUID": "1.2', 'wrong'), 401)).toMatch(/secret/);
  expect(await jsonError(await hook('x'.repeat(1 << 20), 'wrong'), 401)).toMatch(/secret/);
  expect(await jsonError(await hook(JSON.stringify({ studyInstanceUID: `1.${'2'.repeat(63)}` })), 400)).toMatch(/not a DICOM UID/);
  expect(await jsonError(await hook(JSON.stringify({ studyInstanceUID: '1.02.3' })), 400)).toMatch(/not a DICOM UID/);
  const { jobs } = (await (await get('/api/jobs')).json()) as { jobs: unknown[] };
  expect(jobs).toEqual([]);
});

test('API: array parameters, big UIDs, 0x1 and 1e0 ids, unknown paths: JSON 400/404', async () => {
  expect(await jsonError(await get('/api/jobs?study[]=1&study[]=2'), 400)).toMatch(/study/);
  expect(await jsonError(await get('/api/jobs?study=1&study=2'), 400)).toMatch(/study/);
  expect(await jsonError(await get(`/api/jobs?study=${'1'.repeat(4000)}`), 400)).toMatch(/DICOM UID/);
  for (const id of ['0x1', '1e0', '1.0', '00001'])
    expect(await jsonError(await get(`/api/jobs/${id}`), 400)).toMatch(/job id/);
  expect(await jsonError(await get('/api/jobs/1'), 404)).toBe('no job 1');
  expect(await jsonError(await get('/dashboard/jobs/1e0/lesions/1.png'), 400)).toMatch(/job id/);
  expect(await jsonError(await get('/no/such/page'), 404)).toBe('not found');
  expect(await jsonError(await fetch(`${stack.serviceUrl}/api/studies/${'9'.repeat(600)}/rerun`, { method: 'POST' }), 400)).toMatch(/DICOM UID/);
});

test('Orthanc accepts C-STORE from the listed sender only', async () => {
  const s = await synthStudy(9401, path.join(stack.dir, 'cstore'), { size: 64, slices: 4 });
  const target = { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet };
  await expect(storescu([s.dir], { ...target, callingAet: 'INTRUDER' })).rejects.toThrow(/storescu failed/);
  expect(await (await fetch(`${stack.orthanc.dicomwebUrl}/studies?StudyInstanceUID=${s.studyUID}`)).text()).not.toContain(s.studyUID);
  await storescu([s.dir], target);
  expect(await (await fetch(`${stack.orthanc.dicomwebUrl}/studies?StudyInstanceUID=${s.studyUID}`)).text()).toContain(s.studyUID);
  // Neither a push nor the change feed is on here: the study is in the PACS, not in the job store.
  expect(await jobsOf(stack, s.studyUID)).toEqual([]);
});
