/**
 * Leadership among nodes sharing one SQLite job store (one handle per node, as separate processes would have):
 * at most one node runs the role at any moment, a node that stops hands it over at once, and a node that can no
 * longer reach the store stops the role at its next renewal while another takes it once the lease has run out.
 * Node records: a node that stops writing is shown as gone, and each node's led roles come from the leases.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { LeaderLease } from '../../../src/server/leader-lease';
import { FORGET_AFTER_MS, nodeViews, NodeStatusReporter, STALE_AFTER_PERIODS } from '../../../src/server/node-status';

const TTL_MS = 1200;
const RENEW_MS = 200;

let dir: string;
let stores: SqliteJobStore[] = [];
const open = () => {
  const s = new SqliteJobStore({ file: path.join(dir, 'jobs.sqlite'), maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  stores.push(s);
  return s;
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-leader-'));
  stores = [];
});
afterEach(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!probe()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

interface Tenure {
  node: string;
  from: number;
  to?: number;
}

function nodes(n: number) {
  const tenures: Tenure[] = [];
  const members = Array.from({ length: n }, (_, i) => {
    const node = `node-${i}`;
    const store = open();
    const lease = new LeaderLease({
      store,
      role: 'events',
      owner: node,
      ttlMs: TTL_MS,
      renewEveryMs: RENEW_MS,
      onAcquired: () => void tenures.push({ node, from: Date.now() }),
      onLost: () => {
        const t = tenures.find((x) => x.node === node && x.to === undefined);
        if (t) t.to = Date.now();
      },
    });
    return { node, store, lease };
  });
  return { members, tenures, leader: () => members.filter((m) => m.lease.isLeader()) };
}

function expectNoOverlap(tenures: Tenure[]): void {
  for (const a of tenures)
    for (const b of tenures) {
      if (a === b) continue;
      const overlap = a.from < (b.to ?? Infinity) && b.from < (a.to ?? Infinity);
      if (overlap) throw new Error(`${a.node} [${a.from}, ${a.to}] overlaps ${b.node} [${b.from}, ${b.to}]`);
    }
}

test('one leader at a time; a stopping leader hands over at once; an unreachable one stops before another takes over', async () => {
  const { members, tenures, leader } = nodes(3);
  for (const m of members) m.lease.start();
  await until(() => leader().length === 1, 5000, 'a first leader');
  // Several renewal periods: the leader keeps the role, the others keep trying and failing.
  await sleep(6 * RENEW_MS);
  expect(leader()).toHaveLength(1);
  expect(tenures).toHaveLength(1);
  const first = leader()[0];
  expect((await first.store.leaders()).map((l) => [l.role, l.owner])).toEqual([['events', first.node]]);

  // Graceful stop releases the lease: another node takes it at its next attempt, well before the TTL.
  await first.lease.stop();
  const handover = await until(() => leader().length === 1, 5000, 'a second leader');
  expect(handover).toBeLessThan(TTL_MS);
  const second = leader()[0];
  expect(second.node).not.toBe(first.node);

  // The second leader loses the store (as a partitioned or frozen node would): it stops the role at its next
  // renewal, and the third node takes over only after the lease has run out.
  await second.store.close();
  const lostAt = Date.now() + (await until(() => !second.lease.isLeader(), 5000, 'the partitioned leader to stop'));
  const third = members.find((m) => m !== first && m !== second)!;
  await until(() => third.lease.isLeader(), TTL_MS + 5000, 'the takeover');
  await second.lease.stop();
  await third.lease.stop();
  await Promise.all(members.map((m) => m.lease.settled()));

  expect(tenures.map((t) => t.node)).toEqual([first.node, second.node, third.node]);
  const secondTenure = tenures[1];
  expect(secondTenure.to).toBeLessThanOrEqual(lostAt);
  expect(tenures[2].from - secondTenure.to!).toBeGreaterThan(0);
  expectNoOverlap(tenures);
  expect(await third.store.leaders()).toEqual([]);
}, 30000);

test('a leader that dies without releasing is replaced once its lease runs out', async () => {
  const a = open();
  const b = open();
  // The dead node: it took the role, then nothing more (a SIGKILL between renewals).
  expect(await a.acquireLeadership('events', 'dead-node', TTL_MS)).toBe(true);
  const acquired: number[] = [];
  const lease = new LeaderLease({ store: b, role: 'events', owner: 'survivor', ttlMs: TTL_MS, renewEveryMs: RENEW_MS, onAcquired: () => void acquired.push(Date.now()), onLost: () => undefined });
  const t0 = Date.now();
  lease.start();
  await sleep(TTL_MS / 2);
  expect(lease.isLeader()).toBe(false);
  await until(() => lease.isLeader(), TTL_MS + 5000, 'the takeover');
  expect(acquired[0] - t0).toBeGreaterThanOrEqual(TTL_MS / 2);
  expect((await b.leaders()).map((l) => l.owner)).toEqual(['survivor']);
  await lease.stop();
}, 15000);

test('node records: roles from the leases, a node that stops writing is shown as gone, and after a day left out', async () => {
  const store = open();
  const everyMs = 1000;
  const reporter = new NodeStatusReporter({ store, node: 'n1', concurrency: 2, gpus: 1, devices: ['cuda:0', 'cpu'], everyMs, roles: () => ['events'] });
  await reporter.record();
  await store.recordNode({ node: 'n2', host: 'h2', startedAt: 0, seenAt: Date.now() - (STALE_AFTER_PERIODS + 1) * everyMs, concurrency: 1, gpus: 0, devices: ['cpu'], roles: [], runningJobs: 0 });
  await store.recordNode({ node: 'n3', host: 'h3', startedAt: 0, seenAt: Date.now() - FORGET_AFTER_MS - 1000, concurrency: 1, gpus: 0, devices: ['cpu'], roles: [], runningJobs: 0 });
  await store.acquireLeadership('events', 'n1', 10000);
  const { nodes, leaders } = await nodeViews(store, everyMs);
  const byName = Object.fromEntries(nodes.map((n) => [n.node, n]));
  expect(byName.n1).toMatchObject({ alive: true, leading: ['events'], roles: ['events'], concurrency: 2, gpus: 1, devices: ['cuda:0', 'cpu'], runningJobs: 0, host: os.hostname() });
  expect(byName.n2).toMatchObject({ alive: false, leading: [] });
  expect(Object.keys(byName).sort()).toEqual(['n1', 'n2']);
  expect(leaders.map((l) => l.owner)).toEqual(['n1']);
});
