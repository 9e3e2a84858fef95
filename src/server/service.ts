/**
 * The running service (`lens serve`): job store, workers, event sources (Orthanc change feed, webhook,
 * DICOMweb polling) and the HTTP server, started together and stopped gracefully.
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LensConfig } from '../config/schema';
import { loadDetector, type Detector } from '../detect/detector';
import { JobStoreUnavailableError } from '../jobs/errors';
import { SqliteJobStore } from '../jobs/sqlite-store';
import type { JobStore, StudyAnalysisRequest } from '../jobs/types';
import { WorkerPool } from '../jobs/worker';
import { ChangeFeedListener } from '../listener/change-feed';
import { DicomwebPoller } from '../listener/dicomweb-poll';
import { orthancGet } from '../listener/orthanc-rest';
import { log } from '../log';
import { authHeaders, DicomWebClient } from '../pacs/dicomweb';
import { createPacsPipeline } from '../pipeline/pacs-pipeline';
import { runJob } from '../pipeline/run-job';
import { createApp, type ReadinessCheck } from './app';
import { DicomWebStudySource } from '../source/dicomweb-source';
import { IntakeGate } from './intake-gate';
import { KeySliceRenderer } from './key-slice-source';
import { ServiceMetrics } from './metrics';

export interface RunningService {
  url: string;
  store: JobStore;
  workers: WorkerPool;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Opening the store on a full disk (a restart while full) fails with JobStoreUnavailableError: wait for space
 * instead of exiting, since a restart loop would not free any. Every other error is final.
 */
async function openStoreWhenPossible(open: () => SqliteJobStore, retryMs: number): Promise<SqliteJobStore> {
  let lastLogAt = 0;
  for (;;) {
    try {
      return open();
    } catch (e) {
      if (!(e instanceof JobStoreUnavailableError)) throw e;
      if (Date.now() - lastLogAt >= 60000) {
        lastLogAt = Date.now();
        log.error('cannot open the job store; waiting for it to become available', { reason: e.reason, error: e.message });
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}

export async function startService(config: LensConfig, opts: { detector?: Detector } = {}): Promise<RunningService> {
  const workDir = path.resolve(config.workDir);
  fs.mkdirSync(workDir, { recursive: true });
  const dbFile = config.jobs.database ?? path.join(workDir, 'jobs.sqlite');
  const store = await openStoreWhenPossible(
    () =>
      new SqliteJobStore({
        file: dbFile,
        maxAttempts: config.jobs.maxAttempts,
    poisonAfter: config.jobs.poisonAfterDeaths,
        backoff: { baseSeconds: config.jobs.backoffSeconds, maxSeconds: config.jobs.maxBackoffSeconds, jitter: 0.2 },
      }),
    config.jobs.storeCheckSeconds * 1000,
  );
  const stoppers: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const client = new DicomWebClient(config.pacs);
    const detector = opts.detector ?? (await loadDetector(path.resolve(config.model.dir), config.model));
    if (!opts.detector) stoppers.unshift(() => detector.dispose());
    const metrics = new ServiceMetrics(store);
    const intake = new IntakeGate({
      store,
      volumes: [
        { name: 'store', folder: path.dirname(path.resolve(dbFile)) },
        { name: 'work', folder: workDir },
      ],
      minFreeBytes: config.jobs.minFreeDiskMb * 2 ** 20,
      checkEveryMs: config.jobs.storeCheckSeconds * 1000,
    });
    metrics.watchIntake(intake);
    intake.start();
    stoppers.unshift(() => intake.stop());
    const pipeline = createPacsPipeline({ config, client, detector, findSucceeded: (k) => store.findSucceeded(k) });
    const workers = new WorkerPool({
      store,
      concurrency: config.jobs.concurrency,
      leaseMs: config.jobs.leaseSeconds * 1000,
      runners: { 'study-analysis': (job, ctx) => runJob(job, pipeline, ctx) },
      onFinished: (_job, result) => metrics.jobFinished(result),
    });
    const onEnqueued = (source: string) => (created: boolean) => {
      metrics.eventReceived(source, created);
      workers.wake();
    };
    // Push and change feed deliver the same StableStudy within about one feed interval of each other.
    const mergeWithinMs = 2 * config.listener.changeFeed.intervalMs + 1000;
    const enqueue = async (req: StudyAnalysisRequest) => {
      try {
        const r = await store.enqueue(req.source === 'webhook' ? { ...req, mergeWithinMs } : req);
        onEnqueued(req.source)(r.created);
        return r;
      } catch (e) {
        intake.report(e);
        throw e;
      }
    };

    const keySlices = new KeySliceRenderer(new DicomWebStudySource(client), path.join(workDir, 'key-slices'));
    const app = createApp({
      store,
      metrics,
      apiToken: config.server.apiToken,
      webhook: config.listener.webhook,
      enqueue,
      intake,
      studyUidFromOrthancId: config.orthanc
        ? async (id) => (await orthancGet<{ MainDicomTags?: { StudyInstanceUID?: string } }>(config.orthanc!, `/studies/${id}`)).MainDicomTags?.StudyInstanceUID
        : undefined,
      readiness: async () => {
        const checks: Record<string, ReadinessCheck> = {};
        // A read still works on a full disk: whether the store takes writes is the intake gate's probe.
        const gate = intake.state;
        if (!gate.open && gate.reason !== 'disk-low') {
          checks.database = { ok: false, detail: `${gate.reason}: ${gate.detail}` };
        } else {
          try {
            checks.database = { ok: await store.ping() };
          } catch (e) {
            checks.database = { ok: false, detail: (e as Error).message };
          }
        }
        checks.intake = gate.open ? { ok: true } : { ok: false, detail: `stopped (${gate.reason}): ${gate.detail}` };
        checks.model = { ok: true, detail: `${detector.manifest.name} ${detector.manifest.version} (${detector.executionProvider})` };
        try {
          const r = await fetch(`${client.url}/studies?limit=1`, { headers: authHeaders(config.pacs.auth), signal: AbortSignal.timeout(3000) });
          checks.pacs = { ok: r.ok, detail: `HTTP ${r.status}` };
        } catch (e) {
          checks.pacs = { ok: false, detail: `unreachable: ${(e as Error).message}` };
        }
        return checks;
      },
      keySlicePng: (job, lesion) => keySlices.png(job, lesion),
    });
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(config.server.port, config.server.host, () => resolve(s));
      s.once('error', reject);
    });
    stoppers.unshift(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
    );
    const addr = server.address() as AddressInfo;
    const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;

    workers.start();
    const listeners: { stop(): Promise<void> }[] = [];
    if (config.listener.changeFeed.enabled && config.orthanc) {
      const feed = new ChangeFeedListener({
        orthanc: config.orthanc,
        store,
        intervalMs: config.listener.changeFeed.intervalMs,
        startFrom: config.listener.changeFeed.startFrom,
        mergeWithinMs,
        onEnqueued: onEnqueued('changes'),
        intake,
      });
      feed.start();
      listeners.push(feed);
    } else if (config.listener.changeFeed.enabled) {
      log.info('change feed off: no orthanc.url configured');
    }
    if (config.listener.dicomwebPoll.enabled) {
      const poller = new DicomwebPoller({
        client,
        store,
        intervalMs: config.listener.dicomwebPoll.intervalMs,
        lookbackMinutes: config.listener.dicomwebPoll.lookbackMinutes,
        studyDateLookbackDays: config.listener.dicomwebPoll.studyDateLookbackDays,
        onEnqueued: onEnqueued('poll'),
        intake,
      });
      poller.start();
      listeners.push(poller);
    }
    if (config.listener.webhook.enabled && !config.listener.webhook.secret)
      log.warn('webhook enabled without listener.webhook.secret: it refuses every call');
    log.info('lens-pacs service started', {
      url,
      database: dbFile,
      model: `${detector.manifest.name} ${detector.manifest.version}`,
      concurrency: config.jobs.concurrency,
      changeFeed: !!(config.listener.changeFeed.enabled && config.orthanc),
      webhook: config.listener.webhook.enabled,
      dicomwebPoll: config.listener.dicomwebPoll.enabled,
    });

    let stopping: Promise<void> | undefined;
    return {
      url,
      store,
      workers,
      stop(graceMs = 30000) {
        stopping ??= (async () => {
          for (const l of listeners) await l.stop();
          await workers.stop(graceMs);
          for (const s of stoppers) await s();
          log.info('lens-pacs service stopped');
        })();
        return stopping;
      },
    };
  } catch (e) {
    for (const s of stoppers) await s();
    throw e;
  }
}
