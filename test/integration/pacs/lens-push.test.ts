/**
 * plugin/lens-push.lua in a real Orthanc 1.10.1: a push the service does not take (503 while its intake is closed,
 * or nothing listening) is queued and tried again with backoff, and arrives once the service takes it. The service
 * endpoint is a loopback test double that answers 503 a given number of times, then 200: the component under test
 * is the Lua script in Orthanc. Orthanc 1.10 has no Lua timer, so each retry rides on the next stable series: new
 * small studies are stored while waiting, as a working PACS receives them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { lensOrthancOptions } from '../../../src/listener/orthanc-setup';
import { OrthancProcess } from '../../../src/pacs/orthanc-process';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { newUid, waitFor } from '../service/stack';

interface Received {
  status: number;
  studyInstanceUID: string;
}

/** The service's webhook as the push sees it: answers 503 to the first `refuse` requests, then 200 with JSON. */
class WebhookDouble {
  readonly received: Received[] = [];
  refuse = 0;
  private server?: http.Server;
  constructor(public port = 0) {}

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const status = this.refuse > 0 ? 503 : 200;
        if (status === 503) this.refuse--;
        this.received.push({ status, studyInstanceUID: (JSON.parse(body) as { studyInstanceUID: string }).studyInstanceUID });
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(status === 200 ? { ok: true } : { error: 'intake closed' }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
    this.server = undefined;
  }

  delivered(uid: string): Received[] {
    return this.received.filter((r) => r.studyInstanceUID === uid && r.status === 200);
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-push-'));
const webhook = new WebhookDouble();
let orthanc: OrthancProcess;
let template: string;

beforeAll(async () => {
  await webhook.listen();
  orthanc = await OrthancProcess.start({
    dir: path.join(dir, 'orthanc'),
    ...lensOrthancOptions({ serviceUrl: `http://127.0.0.1:${webhook.port}`, secret: 'push-secret', stableAge: 1 }),
  });
  template = writeStudyDicom(generateStudy(7, { size: 32, slices: 1 }), path.join(dir, 'template'))[0];
}, 60000);

afterAll(async () => {
  await orthanc?.dispose();
  await webhook.close();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30000);

/** Stores a one-instance study of its own; resolves to its StudyInstanceUID. */
async function storeStudy(): Promise<string> {
  const studyUID = newUid();
  const file = path.join(dir, `${studyUID}.dcm`);
  fs.copyFileSync(template, file);
  execFileSync('dcmodify', ['-nb', '-m', `(0020,000D)=${studyUID}`, '-m', `(0020,000E)=${newUid()}`, '-m', `(0008,0018)=${newUid()}`, file]);
  const r = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: fs.readFileSync(file) });
  if (!r.ok) throw new Error(`upload failed: ${r.status}`);
  return studyUID;
}

/** Stores small studies (each a stable series later: the retry driver on Orthanc 1.10) until `done`. */
async function storeUntil(done: () => boolean, what: string): Promise<string[]> {
  const tickers: string[] = [];
  await waitFor(async () => {
    if (done()) return true;
    tickers.push(await storeStudy());
    await new Promise((r) => setTimeout(r, 700));
    return done();
  }, 90000, what);
  return tickers;
}

const logLines = (re: RegExp) => fs.readFileSync(orthanc.logPath, 'utf8').split('\n').filter((l) => re.test(l));

test('pushes answered 503 are queued and retried with backoff; the event arrives after the 503s, in order, logged once', async () => {
  webhook.refuse = 3;
  const study = await storeStudy();
  const tickers = await storeUntil(() => webhook.delivered(study).length > 0, 'the push after three 503s');
  const tries = webhook.received.filter((r) => r.studyInstanceUID === study);
  expect(tries.map((r) => r.status)).toEqual([503, 503, 503, 200]);
  // One try per backoff period, each for the oldest event (the queue's head): no ticker event was tried meanwhile.
  expect(webhook.received.slice(0, 4).map((r) => r.studyInstanceUID)).toEqual([study, study, study, study]);
  // Every ticker event queued during the outage arrives too, once each, after it.
  await storeUntil(() => tickers.every((t) => webhook.delivered(t).length > 0), 'the queued ticker events');
  for (const t of tickers) expect(webhook.delivered(t)).toHaveLength(1);
  expect(logLines(/lens-push: the service at .* does not take pushes \(HTTP error status/)).toHaveLength(1);
  expect(logLines(/lens-push: the service takes pushes again after \d+ s and 3 failed tries/)).toHaveLength(1);
}, 120000);

test('a push that finds nothing listening is retried and arrives once the service is back', async () => {
  await webhook.close();
  const study = await storeStudy();
  await waitFor(() => logLines(/does not take pushes \(no answer \(connection failed\)\)/).length === 1, 30000, 'the outage to be logged');
  await webhook.listen();
  await storeUntil(() => webhook.delivered(study).length > 0, 'the push after the service came back');
  expect(webhook.delivered(study)).toHaveLength(1);
  expect(logLines(/lens-push: the service takes pushes again/)).toHaveLength(2);
}, 120000);
