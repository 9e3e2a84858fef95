/**
 * Each `lens serve` node writes its own status into the shared job store on a timer (JobStore.recordNode), so
 * that any node can show every node's health, roles and work (GET /api/nodes, dashboard, metrics). A node that
 * stopped writing (killed, partitioned) is shown as gone once its record is older than a few periods.
 */
import os from 'node:os';
import { log } from '../log';
import type { JobStore, Leadership, NodeStatus } from '../jobs/types';

/** Records older than this many status periods belong to a node that is gone. */
export const STALE_AFTER_PERIODS = 3;
/**
 * A gone node is shown for a day, then left out (every restart is a new node name: host:pid:random, so the list
 * and the per-node metric series would otherwise grow with each restart).
 */
export const FORGET_AFTER_MS = 24 * 3600 * 1000;

export interface NodeStatusReporterOptions {
  store: Pick<JobStore, 'recordNode' | 'list'>;
  node: string;
  concurrency: number;
  gpus: number;
  /** The analysis workers' devices (AnalysisPool.devices): fixed, or read at each write (a model switch may change them). */
  devices: string[] | (() => string[]);
  /** The model the analyses run now, and a failed switch (model-reload.ts). */
  model?(): { version: string; error?: string };
  everyMs: number;
  /** The roles this node holds now. */
  roles(): string[];
}

export class NodeStatusReporter {
  private readonly startedAt = Date.now();
  private running = false;
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;

  constructor(private readonly o: NodeStatusReporterOptions) {}

  start(): void {
    this.running = true;
    const tick = () => {
      this.writing = this.record().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.o.everyMs);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.writing;
  }

  /** Writes the status now (also after a role changes, so that the API shows it without waiting a period). */
  async record(): Promise<void> {
    try {
      // Jobs leased to this node's workers; the store is the one truth about them (a lost lease is not ours).
      const running = await this.o.store.list({ state: 'running', limit: 1000 });
      const model = this.o.model?.();
      await this.o.store.recordNode({
        node: this.o.node,
        host: os.hostname(),
        startedAt: this.startedAt,
        seenAt: Date.now(),
        concurrency: this.o.concurrency,
        gpus: this.o.gpus,
        devices: typeof this.o.devices === 'function' ? this.o.devices() : this.o.devices,
        roles: this.o.roles(),
        runningJobs: running.filter((j) => j.leaseOwner === this.o.node).length,
        ...(model ? { model: model.version, ...(model.error ? { modelError: model.error } : {}) } : {}),
      });
    } catch (e) {
      log.warn('cannot record the node status', { error: (e as Error).message });
    }
  }
}

export interface NodeView extends NodeStatus {
  /** False once the node has not written its status for STALE_AFTER_PERIODS periods. */
  alive: boolean;
  /** Roles whose lease this node holds now (from the leases, not from the node's last write). */
  leading: string[];
}

/** Every node known to the store with its liveness and the roles it leads, for the API, dashboard and metrics. */
export async function nodeViews(store: Pick<JobStore, 'nodes' | 'leaders'>, statusEveryMs: number, now = Date.now()): Promise<{ nodes: NodeView[]; leaders: Leadership[] }> {
  const [nodes, leaders] = await Promise.all([store.nodes(), store.leaders()]);
  const current = leaders.filter((l) => l.expiresAt > now);
  return {
    nodes: nodes.filter((n) => now - n.seenAt <= FORGET_AFTER_MS).map((n) => ({
      ...n,
      alive: now - n.seenAt <= STALE_AFTER_PERIODS * statusEveryMs,
      leading: current.filter((l) => l.owner === n.node).map((l) => l.role),
    })),
    leaders: current,
  };
}
