/**
 * The running service (`lens serve`): job store, workers, event sources (Orthanc change feed, webhook,
 * DICOMweb polling) and the HTTP server, started together and stopped gracefully. Several nodes may share one
 * job store: each runs workers and serves the webhook (enqueue is idempotent); the change feed and the poller run
 * on one node at a time, the holder of the `events` leader lease (leader-lease.ts, docs/deploy.md).
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LensConfig } from '../config/schema';
import { assertServiceConfig, eventSources } from '../config/service-requirements';
import { JobStoreUnavailableError } from '../jobs/errors';
import { describeJobStore, isNetworkStore, openJobStore } from '../jobs/open-store';
import type { JobStore, StudyAnalysisRequest } from '../jobs/types';
import { WorkerPool } from '../jobs/worker';
import { ChangeFeedListener } from '../listener/change-feed';
import { DicomwebPoller } from '../listener/dicomweb-poll';
import { orthancGet } from '../listener/orthanc-rest';
import { log } from '../log';
import { HarvestScheduler, harvestRunner, liveStudyWork } from '../harvest/nightly';
import { authHeaders, DicomWebClient } from '../pacs/dicomweb';
import { createApp, type ReadinessCheck } from './app';
import { IntakeGate } from './intake-gate';
import { KeySliceRenderer } from './key-slice-source';
import { LEADER_ROLES, LeaderLease } from './leader-lease';
import { ServiceMetrics } from './metrics';
import { DicomWebStudySource } from '../source/dicomweb-source';
import { claimsWhile, PacsAvailability, resumeAfterOutage } from './pacs-availability';
import { AnalysisPool } from '../worker/analysis-pool';
import { describeModel, describeReloadError, ModelReloader } from '../worker/model-reload';
import { ModelRegistry } from '../models/registry';
import { startDimseIntake } from '../dimse/intake';
import { receivedFolderOf } from '../dimse/pipeline';
import { nodeViews, NodeStatusReporter } from './node-status';

export interface RunningService {
  url: string;
  store: JobStore;
  workers: WorkerPool;
  /** Roles this node leads now (LEADER_ROLES). */
  roles(): string[];
  stop(graceMs?: number): Promise<void>;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Opening the store on a full disk (a restart while full) fails with JobStoreUnavailableError: wait for space
 * instead of exiting, since a restart loop would not free any. Every other error is final.
 */
async function openStoreWhenPossible(open: () => JobStore | Promise<JobStore>, retryMs: number): Promise<JobStore> {
  let lastLogAt = 0;
  for (;;) {
    try {
      return await open();
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

export async function startService(config: LensConfig): Promise<RunningService> {
  // Refused before anything is opened or listens: no event source, or open beyond loopback without a token.
  assertServiceConfig(config);
  const workDir = path.resolve(config.workDir);
  fs.mkdirSync(workDir, { recursive: true });
  const dbFile = config.jobs.database ?? path.join(workDir, 'jobs.sqlite');
  // A postgres:// URL: the network store shared by several nodes; anything else is a SQLite file.
  const networkStore = isNetworkStore(dbFile);
  const storeOptions = {
    maxAttempts: config.jobs.maxAttempts,
    poisonAfter: config.jobs.poisonAfterDeaths,
    backoff: {
      baseSeconds: config.jobs.backoffSeconds, maxSeconds: config.jobs.maxBackoffSeconds, jitter: 0.2, horizonMinutes: config.jobs.retryHorizonMinutes,
    },
  };
  const store = await openStoreWhenPossible(
    () => openJobStore(dbFile, storeOptions),
    config.jobs.storeCheckSeconds * 1000,
  );
  const stoppers: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const client = new DicomWebClient(config.pacs);
    // Studies are analysed in child processes (src/worker/): a study that kills one never takes the service down.
    // The registry's current model; a promotion or rollback later switches the pool to another (model-reload.ts).
    const registry = ModelRegistry.of(config);
    const loadedModel = registry.pointer();
    const analysis = await AnalysisPool.start(config.jobs.concurrency, {
      config,
      modelDir: loadedModel.dir,
      memoryMb: config.jobs.analysisMemoryMb,
      stallMs: config.jobs.analysisStallSeconds * 1000,
      findSucceeded: (k) => store.findSucceeded(k),
      succeededForStudy: (uid) => store.list({ kind: 'study-analysis', state: 'succeeded', studyInstanceUID: uid, limit: 20 }),
    });
    stoppers.unshift(() => analysis.stop());
    const modelReload = new ModelReloader({
      registry, pool: analysis, loaded: loadedModel, everyMs: config.harvest.registryCheckSeconds * 1000, onChange: () => void nodeStatus.record(),
    });
    const detector = analysis.model;
    const metrics = new ServiceMetrics(store);
    const intake = new IntakeGate({
      store,
      // A database server watches its own disk; the store-full errors it answers still close the gate.
      volumes: [...(networkStore ? [] : [{ name: 'store', folder: path.dirname(path.resolve(dbFile)) }]), { name: 'work', folder: workDir }],
      minFreeBytes: config.jobs.minFreeDiskMb * 2 ** 20,
      checkEveryMs: config.jobs.storeCheckSeconds * 1000,
    });
    metrics.watchIntake(intake);
    intake.start();
    stoppers.unshift(() => intake.stop());
    // Workers take no job while the PACS does not answer (pacs-availability.ts); the probe is /readyz's too. A
    // deployment that only receives by C-STORE and answers by C-STORE never uses DICOMweb: nothing to wait for.
    const dicomwebInUse = !config.dimse.destination || eventSources(config).some((s) => s.enabled && s.name !== 'DICOM C-STORE');
    const pacs = new PacsAvailability({
      everyMs: config.jobs.pacsProbeSeconds * 1000,
      probe: async () => {
        try {
          const r = await fetch(`${client.url}/studies?limit=1`, { headers: authHeaders(config.pacs.auth), signal: AbortSignal.timeout(3000) });
          return { ok: r.ok, detail: `HTTP ${r.status}` };
        } catch (e) {
          return { ok: false, detail: `unreachable: ${(e as Error).message}` };
        }
      },
      onRecovered: async (failedSince, downForMs, now) => {
        await resumeAfterOutage(store, failedSince, downForMs, now);
        workers.wake();
      },
    });
    if (dicomwebInUse) pacs.start();
    stoppers.unshift(() => pacs.stop());
    const workers = new WorkerPool({
      store: dicomwebInUse ? claimsWhile(store, () => pacs.up) : store,
      concurrency: config.jobs.concurrency,
      leaseMs: config.jobs.leaseSeconds * 1000,
      node: config.node.name,
      runners: { 'study-analysis': (job, ctx) => analysis.run({ ...job, dimseFolder: receivedFolderOf(job) }, ctx) },
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

    const leases: LeaderLease[] = [];
    const roles = () => leases.filter((l) => l.isLeader()).map((l) => l.role);
    const nodeStatus = new NodeStatusReporter({
      store,
      node: workers.owner,
      concurrency: config.jobs.concurrency,
      gpus: config.node.gpus,
      devices: () => analysis.devices,
      model: () => {
        const s = modelReload.status();
        return { version: s.version, ...(s.error ? { error: describeReloadError(s.error) } : {}) };
      },
      everyMs: config.node.statusSeconds * 1000,
      roles,
    });
    const nodes = () => nodeViews(store, config.node.statusSeconds * 1000);
    metrics.watchNodes(nodes, roles);
    /**
     * Runs what `start` starts while this node holds `role`'s lease, and stops it the moment the lease is lost;
     * a node with node.leaderEligible false never leads.
     */
    const whileLeading = (role: string, start: () => Stoppable[]) => {
      if (!config.node.leaderEligible) return;
      let running: Stoppable[] = [];
      const lease = new LeaderLease({
        store,
        role,
        owner: workers.owner,
        ttlMs: config.node.leaderTtlSeconds * 1000,
        onAcquired: () => {
          running = start();
          void nodeStatus.record();
        },
        onLost: async () => {
          const stopping = running;
          running = [];
          await Promise.all(stopping.map((s) => s.stop()));
          void nodeStatus.record();
        },
      });
      leases.push(lease);
    };

    const keySlices = new KeySliceRenderer(config.pacs, path.join(workDir, 'key-slices'));
    stoppers.unshift(() => keySlices.stop());
    const app = createApp({
      store,
      metrics,
      apiToken: config.server.apiToken,
      webhook: config.listener.webhook,
      enqueue,
      intake,
      harvestDir: config.harvest.outDir,
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
        // A failed switch keeps a working model: named here, but the node stays ready (every node shares the registry).
        checks.model = { ok: true, detail: describeModel(analysis.model, analysis.devices, modelReload.status()) };
        if (dicomwebInUse) checks.pacs = await pacs.check();
        return checks;
      },
      keySlicePng: (job, lesion) => keySlices.png(job, lesion),
      nodes,
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
    nodeStatus.start();
    stoppers.unshift(() => nodeStatus.stop());
    // A promotion or rollback in the registry reaches the analysis processes without a restart.
    modelReload.start();
    stoppers.unshift(() => modelReload.stop());
    const changeFeed = !!(config.listener.changeFeed.enabled && config.orthanc);
    if (config.listener.changeFeed.enabled && !config.orthanc) log.info('change feed off: no orthanc.url configured');
    if (changeFeed || config.listener.dicomwebPoll.enabled) {
      whileLeading(LEADER_ROLES.events, () => {
        const sources: Stoppable[] = [];
        if (changeFeed) {
          const feed = new ChangeFeedListener({
            orthanc: config.orthanc!,
            store,
            intervalMs: config.listener.changeFeed.intervalMs,
            startFrom: config.listener.changeFeed.startFrom,
            mergeWithinMs,
            onEnqueued: onEnqueued('changes'),
            intake,
          });
          feed.start();
          sources.push(feed);
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
            listSeries: (uid) => new DicomWebStudySource(client).listSeries(uid),
          });
          poller.start();
          sources.push(poller);
        }
        return sources;
      });
    }
    // The nightly harvest (src/harvest/nightly.ts): one node schedules it; a worker of its own runs it, never a study slot.
    if (config.harvest.enabled) {
      const harvestStop = new AbortController();
      const harvestWorkers = new WorkerPool({
        store, concurrency: 1, leaseMs: config.jobs.leaseSeconds * 1000,
        runners: { 'harvest-run': harvestRunner({ config, liveWork: () => liveStudyWork(store), signal: harvestStop.signal, metrics: metrics.watchHarvest() }) },
      });
      harvestWorkers.start();
      stoppers.unshift(async () => {
        harvestStop.abort();
        await harvestWorkers.stop();
      });
      whileLeading(LEADER_ROLES.harvest, () => [
        new HarvestScheduler({
          schedule: config.harvest.schedule,
          windowHours: config.harvest.windowHours,
          enqueue: async (windowEndsAt) => {
            await store.enqueue({ kind: 'harvest-run', source: 'manual', payload: { windowEndsAt }, details: { schedule: config.harvest.schedule } });
            harvestWorkers.wake();
          },
        }).start(),
      ]);
    }
    for (const l of leases) l.start();
    // The C-STORE SCP (src/dimse) runs on every node that enables it: received files live in this node's work dir.
    if (config.dimse.enabled) {
      const dimseIntake = await startDimseIntake({ config, workDir, store, enqueue, intake });
      stoppers.unshift(() => dimseIntake.stop());
    }
    if (config.listener.webhook.enabled && !config.listener.webhook.secret)
      log.warn('webhook enabled without listener.webhook.secret: it refuses every call');
    log.info('lens-pacs service started', {
      url,
      database: describeJobStore(dbFile),
      model: `${detector.manifest.name} ${detector.manifest.version}`,
      node: workers.owner,
      concurrency: config.jobs.concurrency,
      gpus: config.node.gpus,
      // Where each analysis process runs its model (node.gpus pins process i to CUDA device i mod gpus).
      workerDevices: analysis.devices,
      leaderEligible: config.node.leaderEligible,
      changeFeed,
      webhook: config.listener.webhook.enabled,
      dicomwebPoll: config.listener.dicomwebPoll.enabled,
    });

    let stopping: Promise<void> | undefined;
    return {
      url,
      store,
      workers,
      roles,
      stop(graceMs = 30000) {
        stopping ??= (async () => {
          // Leadership first: the event sources stop and another node takes the roles over at once.
          await Promise.all(leases.map((l) => l.stop()));
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
