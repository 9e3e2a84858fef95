/** Prometheus metrics of the service (prom-client), on a registry of its own so that tests can run several. */
import client from 'prom-client';
import { harvestMetrics } from '../harvest/harvest-metrics';
import type { HarvestMetrics } from '../harvest/nightly';
import type { JobCompletion, JobState, JobStore } from '../jobs/types';
import { JOB_STATES } from '../jobs/types';
import { INTAKE_CLOSED_REASONS, type IntakeGate } from './intake-gate';
import { LEADER_ROLES } from './leader-lease';
import type { NodeView } from './node-status';

export class ServiceMetrics {
  readonly registry = new client.Registry();
  private readonly eventToReport: client.Histogram;
  private readonly detection: client.Histogram;
  private readonly failures: client.Counter;
  private readonly events: client.Counter;

  constructor(store: JobStore) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lens_' });
    new client.Gauge({
      name: 'lens_jobs',
      help: 'Jobs by state',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const counts = await store.countByState();
        for (const s of JOB_STATES) this.set({ state: s }, counts[s as JobState]);
      },
    });
    new client.Gauge({
      name: 'lens_queue_depth',
      help: 'Jobs waiting to run (queued or waiting for a retry)',
      registers: [this.registry],
      async collect() {
        const c = await store.countByState();
        this.set(c.queued + c['failed-retrying']);
      },
    });
    this.eventToReport = new client.Histogram({
      name: 'lens_event_to_report_seconds',
      help: 'Time from the arrival of the study event to the stored and verified report',
      buckets: [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200],
      registers: [this.registry],
    });
    this.detection = new client.Histogram({
      name: 'lens_detection_seconds',
      help: 'Time spent in the detector per study',
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [this.registry],
    });
    this.failures = new client.Counter({
      name: 'lens_job_failures_total',
      help: 'Failed job attempts by reason (transient ones are retried)',
      labelNames: ['reason', 'transient'],
      registers: [this.registry],
    });
    this.events = new client.Counter({
      name: 'lens_events_total',
      help: 'Study events received by source and whether they created a job',
      labelNames: ['source', 'created'],
      registers: [this.registry],
    });
  }

  /** Gauges of the intake gate: whether new work is taken, why not, and the free space it watches. */
  watchIntake(gate: IntakeGate): void {
    new client.Gauge({
      name: 'lens_intake_open',
      help: 'Whether new studies are taken (0: stopped for lack of disk or an unavailable job store; see lens_intake_stopped)',
      registers: [this.registry],
      collect() {
        this.set(gate.isOpen() ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'lens_intake_stopped',
      help: 'Why intake is stopped (1 for the current reason)',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        const s = gate.state;
        for (const r of INTAKE_CLOSED_REASONS) this.set({ reason: r }, !s.open && s.reason === r ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'lens_disk_free_bytes',
      help: 'Free bytes on the volumes intake watches (store: the job database folder, work: the work dir)',
      labelNames: ['volume'],
      registers: [this.registry],
      collect() {
        for (const [volume, free] of gate.freeBytes()) this.set({ volume }, free);
      },
    });
  }

  /**
   * Gauges of the nodes sharing the job store (from the store: any node's /metrics shows every node) and of this
   * node's own roles. A node that is gone keeps its series with lens_node_up 0 until its record is removed.
   */
  watchNodes(nodes: () => Promise<{ nodes: NodeView[] }>, localRoles: () => string[]): void {
    // One read of the store per scrape (within a second), shared by the per-node gauges.
    let cached: { at: number; views: Promise<NodeView[]> } | undefined;
    const read = () => {
      if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), views: nodes().then((r) => r.nodes) };
      return cached.views;
    };
    const perNode = (name: string, help: string, value: (n: NodeView) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['node', 'host'],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const n of await read()) this.set({ node: n.node, host: n.host }, value(n));
        },
      });
    perNode('lens_node_up', 'Whether the node wrote its status recently (1) or is gone (0)', (n) => (n.alive ? 1 : 0));
    perNode('lens_node_running_jobs', 'Jobs the node was running at its last status', (n) => n.runningJobs);
    perNode('lens_node_concurrency', 'Worker slots of the node (jobs.concurrency)', (n) => n.concurrency);
    perNode('lens_node_gpus', 'GPUs of the node (node.gpus)', (n) => n.gpus);
    new client.Gauge({
      name: 'lens_leader',
      help: 'Which node holds each leader role (1 for the holder)',
      labelNames: ['role', 'node'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const n of await read()) for (const role of n.leading) this.set({ role, node: n.node }, 1);
      },
    });
    new client.Gauge({
      name: 'lens_is_leader',
      help: 'Whether this node leads the role now',
      labelNames: ['role'],
      registers: [this.registry],
      collect() {
        const mine = localRoles();
        for (const role of Object.values(LEADER_ROLES)) this.set({ role }, mine.includes(role) ? 1 : 0);
      },
    });
  }

  /** The nightly harvest's metrics (src/harvest/harvest-metrics.ts), when the harvest is enabled. */
  watchHarvest(): HarvestMetrics {
    return harvestMetrics(this.registry);
  }

  eventReceived(source: string, created: boolean): void {
    this.events.inc({ source, created: String(created) });
  }

  jobFinished(result: JobCompletion): void {
    if (result.kind === 'succeeded') {
      if (result.timingsMs.eventToStored !== undefined) this.eventToReport.observe(result.timingsMs.eventToStored / 1000);
      if (result.timingsMs.detected !== undefined) this.detection.observe(result.timingsMs.detected / 1000);
    } else if (result.kind === 'failed') {
      this.failures.inc({ reason: result.reason, transient: String(result.transient) });
    }
  }
}
