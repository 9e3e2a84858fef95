/**
 * The job store's disk really fills during a burst of studies and is freed again: the service never exits (also
 * across a restart while full), readiness and metrics say why intake stopped, the studies refused meanwhile are
 * not lost (the webhook answered 503, the change feed kept its cursor), and once space is back every study is
 * analysed exactly once. The store lives on its own small tmpfs (mounting needs root, as CI has).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storescu } from '../../../src/listener/storescu';
import { api, jobsOf, seriesByModality, ServiceChild, type Stack, synthStudy, useServiceStack, waitFor } from './stack';

const isRoot = process.getuid?.() === 0;
// Made only where the suite runs (root), so that a skipped run leaves nothing behind.
const STORE_FS = isRoot ? fs.mkdtempSync(path.join(os.tmpdir(), 'lens-store-fs-')) : path.join(os.tmpdir(), 'lens-store-fs-unused');
const BALLAST = path.join(STORE_FS, 'ballast');

/** Writes until the file system refuses: afterwards SQLite meets a really full disk. */
function fillDisk(): void {
  const fd = fs.openSync(BALLAST, 'a');
  try {
    for (const chunk of [1 << 16, 512]) {
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(chunk, 1));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

(isRoot ? describe : describe.skip)('job store disk full (needs root to mount a tmpfs)', () => {
  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', STORE_FS]);
  });
  afterAll(() => {
    // Lazy: the service may still hold the database open while its own afterAll stops it.
    execFileSync('umount', ['-l', STORE_FS]);
    fs.rmSync(STORE_FS, { recursive: true, force: true });
  });

  // minFreeDiskMb 0: no watermark, so that SQLite itself meets the full disk (the watermark is unit-tested).
  const suite = useServiceStack({
    push: true,
    stableAge: 1,
    config: { jobs: { database: path.join(STORE_FS, 'jobs.sqlite'), minFreeDiskMb: 0, storeCheckSeconds: 1, leaseSeconds: 8 } },
  });
  let stack: Stack;
  let service: ServiceChild;
  beforeAll(() => {
    ({ stack, service } = suite);
  });

  const send = (dirs: string[]) => storescu(dirs, { port: stack.orthanc.dicomPort, calledAet: stack.orthanc.aet });
  const succeeded = (uid: string) =>
    waitFor(async () => (await jobsOf(stack, uid)).find((j) => j.state === 'succeeded'), 240000, `success of ${uid}`);
  const readyz = async () => {
    const r = await fetch(`${stack.serviceUrl}/readyz`);
    return { status: r.status, body: (await r.json()) as { ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
  };
  /** StableStudy events Orthanc has raised so far (each one was pushed to the webhook at once). */
  const stableStudies = async () => {
    let n = 0;
    for (let since = 0; ; ) {
      const page = (await (await fetch(`${stack.orthanc.url}/changes?since=${since}&limit=100`)).json()) as { Changes: { ChangeType: string }[]; Done: boolean; Last: number };
      n += page.Changes.filter((c) => c.ChangeType === 'StableStudy').length;
      if (page.Done || page.Changes.length === 0) return n;
      since = page.Last;
    }
  };

  test('filled during a burst and freed: the service stays up, refuses, then analyses every study once', async () => {
    const studies = await Promise.all([9301, 9302, 9303, 9304].map((seed) => synthStudy(seed, path.join(stack.dir, `s-${seed}`), { size: 128, slices: 32 })));
    const [early, burst] = [studies.slice(0, 2), studies.slice(2)];
    expect((await readyz()).status).toBe(200);

    // The first half of the burst is taken in; the disk fills while its jobs wait or run; the second half
    // arrives on a full disk.
    await send(early.map((s) => s.dir));
    await waitFor(async () => (await Promise.all(early.map((s) => jobsOf(stack, s.studyUID)))).every((j) => j.length > 0), 60000, 'the first studies to be enqueued');
    fillDisk();
    await send(burst.map((s) => s.dir));

    // Readiness says the store is full; the metrics say intake stopped and why.
    const notReady = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 ? r.body : undefined;
    }, 30000, 'readiness to go false');
    expect(notReady.checks.database).toMatchObject({ ok: false, detail: expect.stringMatching(/store-full/) });
    expect(notReady.checks.intake).toMatchObject({ ok: false });
    expect(JSON.stringify(notReady)).not.toContain(STORE_FS);
    const metrics = await api<string>(stack, '/metrics');
    expect(metrics).toContain('lens_intake_open 0');
    expect(metrics).toContain('lens_intake_stopped{reason="store-full"} 1');
    // The watermark's measurement (fs.statfs of the store's folder, every storeCheckSeconds) sees the full tmpfs.
    await waitFor(async () => {
      const free = Number(/lens_disk_free_bytes\{volume="store"\} (\d+)/.exec(await api<string>(stack, '/metrics'))?.[1]);
      return free < 64 * 1024;
    }, 15000, 'the store volume measured full');

    // Orthanc declared every burst study stable and pushed it; the push was refused, nothing was recorded.
    await waitFor(async () => (await stableStudies()) >= studies.length, 60000, 'the burst to become stable in Orthanc');
    const hook = await fetch(`${stack.serviceUrl}/webhook/orthanc`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'X-Lens-Secret': stack.secret }, body: JSON.stringify({ studyInstanceUID: burst[0].studyUID }),
    });
    expect(hook.status).toBe(503);
    expect(hook.headers.get('retry-after')).toBeTruthy();
    for (const s of burst) expect(await jobsOf(stack, s.studyUID)).toEqual([]);

    // A restart while the disk is full: the service comes up (no exit loop) and still refuses.
    await service.kill('SIGTERM');
    await service.start();
    await waitFor(async () => (await readyz()).status === 503, 30000, 'readiness false after the restart');
    expect((await fetch(`${stack.serviceUrl}/healthz`)).status).toBe(200);

    fs.rmSync(BALLAST);
    await waitFor(async () => (await readyz()).status === 200, 30000, 'readiness back once space is freed');
    for (const s of studies) await succeeded(s.studyUID);
    // Our own SR/SEG make each study stable again: that event's job must end (skipped as own output) first.
    await waitFor(async () => {
      const { counts } = await api<{ counts: Record<string, number> }>(stack, '/api/jobs?limit=1');
      return counts.queued + counts.running + counts['failed-retrying'] === 0;
    }, 120000, 'the queue to drain');
    for (const s of studies) {
      // An own-output event may still arrive after the drain (Orthanc's StableAge): wait until this study's jobs end.
      const final = ['succeeded', 'skipped', 'failed', 'dead', 'quarantined'];
      const jobs = await waitFor(async () => {
        const j = await jobsOf(stack, s.studyUID);
        return j.every((x) => final.includes(x.state)) && j;
      }, 120000, `the jobs of study ${s.studyUID} to end`);
      expect(jobs.filter((j) => j.state === 'succeeded')).toHaveLength(1);
      const others = jobs.filter((j) => j.state !== 'succeeded' && j.state !== 'skipped');
      expect(others.map((j) => ({ id: j.id, source: j.source, state: j.state, reason: j.reason, error: j.lastError }))).toEqual([]);
      const series = await seriesByModality(stack, s.studyUID);
      expect(series.SR).toHaveLength(1);
      expect(series.SEG).toHaveLength(1);
    }
    // The refused burst came back by itself: through the push's retry queue (plugin/lens-push.lua) or the change
    // feed (its cursor had not moved past the refused events), whichever came first; never by a manual re-run.
    for (const s of burst) {
      const sources = (await jobsOf(stack, s.studyUID)).map((j) => j.source);
      expect(sources.length).toBeGreaterThan(0);
      expect(sources.filter((src) => src !== 'changes' && src !== 'webhook')).toEqual([]);
    }
    const log = service.output();
    expect(log).toMatch(/"message":"intake stopped[^"]*","reason":"store-full"|"reason":"store-full"[^\n]*intake stopped/);
    expect(log).toContain('intake resumed');
    // Started twice (the test's restart), never by a crash (stdout says it once per start).
    expect(log.match(/lens-pacs listening on/g)).toHaveLength(2);
    expect(log).not.toMatch(/uncaught|unhandled/i);
  }, 400000);
});
