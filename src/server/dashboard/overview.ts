/**
 * The overview: jobs by state, throughput (studies analysed per hour over recent windows), failures by reason,
 * the dead jobs with their re-drive buttons, and the nodes. No pictures; the page refreshes only its counts (a
 * small JSON request every half minute), never itself.
 */
import { JOB_STATES, type JobState, type JobStore, type OutcomeCount } from '../../jobs/types';
import type { NodeView } from '../node-status';
import { esc, notice, page, stateBadge, time } from './layout';

/** The throughput windows, hours. */
export const THROUGHPUT_WINDOWS_H = [1, 6, 24] as const;
const HOUR_MS = 3600_000;
const FAILURE_STATES: readonly JobState[] = ['failed', 'dead', 'quarantined'];

export interface Throughput {
  hours: number;
  /** Study analyses that succeeded within the window. */
  succeeded: number;
  perHour: number;
}

export interface OverviewData {
  counts: Record<JobState, number>;
  throughput: Throughput[];
  /** Failed, dead and quarantined study analyses of the last 24 h, by reason. */
  failures: OutcomeCount[];
  /** Every dead study analysis, by reason: what a re-drive would queue again. */
  dead: OutcomeCount[];
  nodes?: NodeView[];
  done?: string;
}

export async function overviewData(store: Pick<JobStore, 'countByState' | 'outcomes'>, now = Date.now()): Promise<Omit<OverviewData, 'nodes' | 'done'>> {
  const [counts, recent, dead, ...windows] = await Promise.all([
    store.countByState(),
    store.outcomes(now - 24 * HOUR_MS),
    store.outcomes(0),
    ...THROUGHPUT_WINDOWS_H.map((h) => store.outcomes(now - h * HOUR_MS)),
  ]);
  return {
    counts,
    throughput: THROUGHPUT_WINDOWS_H.map((hours, i) => {
      const succeeded = windows[i].filter((o) => o.state === 'succeeded').reduce((n, o) => n + o.count, 0);
      return { hours, succeeded, perHour: succeeded / hours };
    }),
    failures: recent.filter((o) => FAILURE_STATES.includes(o.state)),
    dead: dead.filter((o) => o.state === 'dead'),
  };
}

/** A re-drive button: all dead jobs, or those of one reason. */
const redriveButton = (reason?: string) =>
  `<form method="post" action="/dashboard/redrive${reason ? `?reason=${encodeURIComponent(reason)}` : ''}" class="inline"><button type="submit" class="redrive"${
    reason ? ` data-reason="${esc(reason)}"` : ''
  }>Re-drive ${reason ? esc(reason) : 'all dead jobs'}</button></form>`;

function nodeTable(nodes: NodeView[] | undefined): string {
  if (!nodes) return '';
  if (!nodes.length) return '<h2>Nodes</h2><p class="muted">no node has reported yet</p>';
  const rows = nodes
    .map(
      (n) => `<tr class="node" data-node="${esc(n.node)}" data-alive="${n.alive}"><td class="uid">${esc(n.node)}</td><td>${n.alive ? 'up' : '<b>gone</b>'}</td>
<td>${esc(n.leading.join(', '))}</td><td class="num">${n.runningJobs} / ${n.concurrency}</td><td class="num">${n.gpus}</td><td class="devices">${esc(n.devices.join(', '))}</td><td class="model">${esc(n.model ?? '')}${n.modelError ? ` <b title="${esc(n.modelError)}">switch failed</b>` : ''}</td><td>${esc(time(n.seenAt))}</td></tr>`,
    )
    .join('\n');
  return `<h2>Nodes</h2><table class="nodes"><thead><tr><th>node</th><th>health</th><th>leads</th><th class="num">running / slots</th><th class="num">GPUs</th><th>analysis on</th><th>model</th><th>last seen</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// Refreshes the numbers of the state cards; nothing else on the page is fetched again.
const REFRESH_COUNTS = `setInterval(()=>fetch('/dashboard/overview/counts',{credentials:'same-origin'}).then(r=>r.ok?r.json():null).then(c=>{
if(c)for(const el of document.querySelectorAll('[data-count]'))el.textContent=String(c[el.dataset.count]??0)}).catch(()=>{}),30000);`;

export function renderOverview(d: OverviewData): string {
  const cards = JOB_STATES.map((s) => `<div class="card">${stateBadge(s)}<b data-count="${s}">${d.counts[s] ?? 0}</b></div>`).join('');
  const throughput = d.throughput
    .map((t) => `<tr class="throughput" data-hours="${t.hours}"><td>last ${t.hours} h</td><td class="num">${t.succeeded}</td><td class="num">${t.perHour.toFixed(t.perHour < 10 ? 1 : 0)}</td></tr>`)
    .join('');
  const failures = d.failures.length
    ? `<table class="failures"><thead><tr><th>reason</th><th>state</th><th class="num">studies</th></tr></thead><tbody>${d.failures
        .map((f) => `<tr><td>${esc(f.reason ?? '(none)')}</td><td>${stateBadge(f.state)}</td><td class="num">${f.count}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p class="muted">no failures in the last 24 h</p>';
  const dead = d.dead.length
    ? `<table class="dead"><thead><tr><th>reason</th><th class="num">dead jobs</th><th></th></tr></thead><tbody>${d.dead
        .map((f) => `<tr><td>${esc(f.reason ?? '(none)')}</td><td class="num">${f.count}</td><td>${f.reason ? redriveButton(f.reason) : ''}</td></tr>`)
        .join('')}</tbody></table><p>${redriveButton()}</p>`
    : '<p class="muted">no dead jobs</p>';
  return page(
    'lens-pacs: overview',
    'overview',
    `<h1>lens-pacs: overview</h1>${notice(d.done)}<h2>Jobs by state</h2><div class="cards">${cards}</div>
<h2>Throughput</h2><table class="throughput"><thead><tr><th>window</th><th class="num">studies analysed</th><th class="num">per hour</th></tr></thead><tbody>${throughput}</tbody></table>
<h2>Failures by reason (24 h)</h2>${failures}<h2>Dead jobs</h2>${dead}${nodeTable(d.nodes)}`,
    REFRESH_COUNTS,
  );
}
