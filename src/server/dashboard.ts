/**
 * The PACS administrator's page: server-rendered HTML (no build step). Recent jobs with their state and
 * journey, the lesions found, and a key-slice picture per lesion. Only UIDs, states and measurements: the
 * service never stores patient data.
 */
import type { Job, JobState, JourneyEvent } from '../jobs/types';
import type { NodeView } from './node-status';

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STATE_COLOURS: Record<JobState, string> = {
  queued: '#888', running: '#1f6feb', succeeded: '#2da44e', skipped: '#8c959f', failed: '#cf222e', 'failed-retrying': '#bf8700', dead: '#82071e',
  quarantined: '#8250df',
};

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:.4em;text-align:left;vertical-align:top;font-size:14px}
.state{color:#fff;border-radius:1em;padding:.1em .6em;font-size:12px;white-space:nowrap}
.uid{font-family:monospace;font-size:12px;word-break:break-all}.lesions{display:flex;flex-wrap:wrap;gap:.6em}
figure{margin:0;width:200px}figure img{width:200px;height:200px;object-fit:contain;background:#000}figcaption{font-size:12px}
.journey td{font-size:12px}.muted{color:#57606a}`;

function page(title: string, body: string, refreshSeconds?: number): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>${
    refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''
  }<style>${STYLE}</style></head><body>${body}</body></html>`;
}

const stateBadge = (s: JobState) => `<span class="state" data-state="${s}" style="background:${STATE_COLOURS[s]}">${esc(s)}</span>`;
/** What a job is about: the study of a study analysis, the payload of any other kind (UIDs, dates, options). */
const subject = (j: Job) => (j.kind === 'study-analysis' ? j.studyInstanceUID : JSON.stringify(j.payload));

const time = (ms?: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

function lesionFigures(job: Job): string {
  if (!job.lesions?.length) return job.state === 'succeeded' ? '<span class="muted">no lesion found</span>' : '';
  return `<div class="lesions">${job.lesions
    .map(
      (l) => `<figure class="lesion" data-lesion="${l.id}"><img loading="lazy" alt="lesion ${l.id} key slice" src="/dashboard/jobs/${job.id}/lesions/${l.id}.png">
<figcaption>#${l.id} ${esc(l.type)} · score ${l.score.toFixed(2)}<br>${l.longAxisMm.toFixed(1)} × ${l.shortAxisMm.toFixed(1)} mm</figcaption></figure>`,
    )
    .join('')}</div>`;
}

/** The nodes sharing the job store: health, roles and work (shown when there is more than one or any is gone). */
function nodeTable(nodes: NodeView[] | undefined): string {
  if (!nodes || (nodes.length < 2 && nodes.every((n) => n.alive))) return '';
  const rows = nodes
    .map(
      (n) => `<tr class="node" data-node="${esc(n.node)}" data-alive="${n.alive}"><td class="uid">${esc(n.node)}</td><td>${n.alive ? 'up' : '<b>gone</b>'}</td>
<td>${esc(n.leading.join(', '))}</td><td>${n.runningJobs} / ${n.concurrency}</td><td>${n.gpus}</td><td>${time(n.seenAt)}</td></tr>`,
    )
    .join('\n');
  return `<h2>Nodes</h2><table class="nodes"><thead><tr><th>node</th><th>health</th><th>leads</th><th>running / slots</th><th>GPUs</th><th>last seen</th></tr></thead>
<tbody>${rows}</tbody></table><h2>Studies</h2>`;
}

export function renderJobList(jobs: Job[], counts: Record<JobState, number>, nodes?: NodeView[]): string {
  const summary = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${stateBadge(s as JobState)} ${n}`)
    .join(' &nbsp; ');
  const rows = jobs
    .map(
      (j) => `<tr class="job" data-job="${j.id}"><td><a href="/dashboard/jobs/${j.id}">#${j.id}</a></td><td>${stateBadge(j.state)}</td>
<td>${esc(j.kind)}</td><td class="uid">${esc(subject(j))}</td><td>${esc(j.source)}</td><td>${time(j.receivedAt)}</td><td>${j.attempts}</td>
<td>${j.lesionCount ?? ''}</td><td>${esc(j.state === 'succeeded' ? '' : (j.lastError ?? ''))}</td><td>${lesionFigures(j)}</td></tr>`,
    )
    .join('\n');
  return page(
    'lens-pacs: studies',
    `<h1>lens-pacs</h1>${nodeTable(nodes)}<p>${summary || 'no jobs yet'}</p>
<table><thead><tr><th>job</th><th>state</th><th>kind</th><th>study / payload</th><th>source</th><th>received</th><th>attempts</th><th>lesions</th><th>reason</th><th>key slices</th></tr></thead>
<tbody>${rows}</tbody></table>`,
    15,
  );
}

export function renderJobDetail(job: Job, journey: JourneyEvent[]): string {
  const outputs = job.outputs
    ? `<p>Source series <span class="uid">${esc(job.outputs.seriesInstanceUID)}</span><br>SR <span class="uid">${esc(job.outputs.srSopInstanceUID)}</span> (series <span class="uid">${esc(job.outputs.srSeriesUID)}</span>)<br>SEG <span class="uid">${esc(job.outputs.segSopInstanceUID)}</span> (series <span class="uid">${esc(job.outputs.segSeriesUID)}</span>)</p>`
    : '';
  const rows = journey
    .map((e) => `<tr><td>${time(e.at)}</td><td>${esc(e.event)}</td><td class="uid">${esc(e.details ? JSON.stringify(e.details) : '')}</td></tr>`)
    .join('\n');
  return page(
    `lens-pacs: job ${job.id}`,
    `<p><a href="/dashboard">← all studies</a></p><h1>Job #${job.id} ${stateBadge(job.state)}</h1>
<p>${esc(job.kind)} · ${job.kind === 'study-analysis' ? 'study' : 'payload'} <span class="uid">${esc(subject(job))}</span> · model ${esc(job.modelVersion ?? '')} · attempts ${job.attempts}/${job.maxAttempts}</p>
${job.lastError && job.state !== 'succeeded' ? `<p><b>Reason:</b> ${esc(job.reason)}: ${esc(job.lastError)}</p>` : ''}
${outputs}<h2>Lesions (${job.lesionCount ?? 0})</h2>${lesionFigures(job)}
<h2>Journey</h2><table class="journey"><tbody>${rows}</tbody></table>`,
  );
}
