/**
 * Leadership of one role (e.g. following the change feed) among the `lens serve` nodes that share a job store.
 * Every node runs workers; exactly one at a time runs the role's work. The holder renews a lease in the store
 * (JobStore.acquireLeadership) every `renewEveryMs`; when it dies the lease runs out and another node takes it at
 * its next try, so a takeover happens within ttlMs + renewEveryMs of the death.
 *
 * The node drops the role as soon as it cannot show that it still holds it: a renewal refused (another node took
 * it) or failed (store unreachable), or a renewal that has not answered before the lease would run out. Dropping
 * early is safe (the role's work is idempotent and another node, or this one at the next try, resumes it);
 * running on after the lease ran out is not, since then two nodes would follow the same feed.
 */
import { log } from '../log';
import type { JobStore } from '../jobs/types';

/** The roles one node holds for the whole group. */
export const LEADER_ROLES = {
  /** Change feed and DICOMweb poller: each study event is read once, by one node. */
  events: 'events',
  /** The nightly harvest scheduler (src/harvest). */
  harvest: 'harvest',
} as const;

export interface LeaderLeaseOptions {
  store: Pick<JobStore, 'acquireLeadership' | 'releaseLeadership'>;
  role: string;
  owner: string;
  ttlMs: number;
  /** How often the lease is taken or renewed (default: a third of ttlMs). */
  renewEveryMs?: number;
  /** Starts the role's work; called each time the role is won. */
  onAcquired(): void | Promise<void>;
  /** Stops the role's work; called each time the role is lost or given up. */
  onLost(): void | Promise<void>;
}

export class LeaderLease {
  private leader = false;
  private running = false;
  private timer?: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private attempt?: Promise<void>;
  /** Serialises onAcquired/onLost, so that a quick loss after a win stops what the win started. */
  private transitions: Promise<void> = Promise.resolve();
  private readonly renewEveryMs: number;

  constructor(private readonly o: LeaderLeaseOptions) {
    this.renewEveryMs = o.renewEveryMs ?? Math.max(100, Math.floor(o.ttlMs / 3));
    if (this.renewEveryMs >= o.ttlMs) throw new RangeError(`leader lease: renewEveryMs (${this.renewEveryMs}) must be below ttlMs (${o.ttlMs})`);
  }

  get role(): string {
    return this.o.role;
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      this.attempt = this.tryOnce().finally(() => {
        if (this.running) this.timer = setTimeout(tick, this.renewEveryMs);
      });
    };
    tick();
  }

  /** Stops trying; when leader, stops the role's work and releases the lease so another node takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.attempt;
    this.lose('stopping', 'info');
    // Also when not leader: an attempt that won while stop() began holds the lease in the store.
    try {
      await this.o.store.releaseLeadership(this.o.role, this.o.owner);
    } catch (e) {
      log.warn('cannot release leadership (it runs out by itself)', { role: this.o.role, error: (e as Error).message });
    }
    await this.transitions;
  }

  /** Resolves once every onAcquired/onLost called so far has finished (tests, shutdown). */
  settled(): Promise<void> {
    return this.transitions;
  }

  private async tryOnce(): Promise<void> {
    const { store, role, owner, ttlMs } = this.o;
    const askedAt = Date.now();
    let held: boolean;
    try {
      // The store's clock decides expiry (a network store may use its own); ours only times the local deadline.
      held = await store.acquireLeadership(role, owner, ttlMs);
    } catch (e) {
      if (this.leader) log.warn('leadership renewal failed: giving up the role', { role, error: (e as Error).message });
      else log.debug('leadership attempt failed', { role, error: (e as Error).message });
      if (this.leader) this.lose('renewal failed');
      return;
    }
    // A renewal that answers after stop() began must not restart the role's work.
    if (!this.running) held = held && this.leader;
    if (held) {
      // The lease runs from when we asked, not from when the answer came: drop the role a little before it ends
      // unless the next renewal succeeds first.
      clearTimeout(this.expiry);
      const margin = Math.min(1000, Math.floor(ttlMs / 4));
      this.expiry = setTimeout(() => this.lose('lease ran out before a renewal succeeded'), Math.max(0, askedAt + ttlMs - margin - Date.now()));
      if (!this.leader) {
        this.leader = true;
        log.info('leadership acquired', { role, owner, ttlMs });
        this.transition(this.o.onAcquired);
      }
    } else if (this.leader) {
      this.lose('taken by another node');
    }
  }

  private lose(why: string, level: 'warn' | 'info' = 'warn'): void {
    clearTimeout(this.expiry);
    if (!this.leader) return;
    this.leader = false;
    log.log(level, 'leadership given up: stopping the role', { role: this.o.role, owner: this.o.owner, why });
    this.transition(this.o.onLost);
  }

  private transition(fn: () => void | Promise<void>): void {
    this.transitions = this.transitions.then(fn).catch((e) => void log.error('leadership transition failed', { role: this.o.role, error: (e as Error).message }));
  }
}
