/**
 * What every dashboard page shares: escaping, the page frame with its navigation, state badges, times and
 * durations. Server-rendered HTML without a build step; every value from the store or a request goes through esc().
 */
import type { JobState } from '../../jobs/types';

export const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const STATE_COLOURS: Record<JobState, string> = {
  queued: '#888', running: '#1f6feb', succeeded: '#2da44e', skipped: '#8c959f', failed: '#cf222e', 'failed-retrying': '#bf8700', dead: '#82071e',
  quarantined: '#8250df',
};

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
nav{margin-bottom:1em}nav a{margin-right:1.2em}nav a.here{font-weight:bold;text-decoration:none;color:#1f2328}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:.4em;text-align:left;vertical-align:top;font-size:14px}
.state{color:#fff;border-radius:1em;padding:.1em .6em;font-size:12px;white-space:nowrap}
.uid{font-family:monospace;font-size:12px;word-break:break-all}.muted{color:#57606a}.num{text-align:right}
.notice{background:#dafbe1;border:1px solid #2da44e;padding:.6em;border-radius:6px}
.lesions{display:flex;flex-wrap:wrap;gap:.6em}figure{margin:0;width:200px}
figure img{width:200px;height:200px;object-fit:contain;background:#000}figcaption{font-size:12px}
.timeline{list-style:none;padding:0;border-left:3px solid #d0d7de;margin-left:.5em}
.timeline li{margin:0 0 .7em 0;padding-left:1em;position:relative}
.timeline li::before{content:'';position:absolute;left:-.5em;top:.35em;width:.7em;height:.7em;border-radius:50%;background:#57606a}
.timeline .when{font-size:12px;color:#57606a}.timeline .detail{font-size:12px;color:#57606a}
.cards{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;min-width:8em}
.card b{font-size:22px;display:block}form.inline{display:inline}button{font-size:14px;padding:.3em .8em}`;

export type Section = 'studies' | 'overview' | 'harvest';

const NAV: [Section, string, string][] = [
  ['studies', '/dashboard', 'Studies'],
  ['overview', '/dashboard/overview', 'Overview'],
  ['harvest', '/dashboard/harvest', 'Harvest'],
];

/** A whole page: navigation, then `body`. No automatic reload (a page may refresh its own figures: overview.ts). */
export function page(title: string, section: Section | undefined, body: string, script = ''): string {
  const nav = NAV.map(([s, href, label]) => `<a href="${href}"${s === section ? ' class="here"' : ''}>${label}</a>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body><nav>${nav}</nav>${body}${script ? `<script>${script}</script>` : ''}</body></html>`;
}

export const stateBadge = (s: JobState): string =>
  `<span class="state" data-state="${esc(s)}" style="background:${STATE_COLOURS[s] ?? '#888'}">${esc(s)}</span>`;

/** Epoch ms as `2024-01-05 10:11:12Z`; empty when absent. */
export const time = (ms?: number): string => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

/** A duration as people read it: 850 ms, 4.2 s, 3 min 5 s, 2 h 10 min. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** DICOM DA (YYYYMMDD) as 2024-01-05; anything else as it is. */
export const studyDate = (da?: string): string => (da && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : (da ?? ''));

/** A confirmation of what an action did (after its redirect), shown at the top of the page. */
export const notice = (text: string | undefined): string => (text ? `<p class="notice" role="status">${esc(text)}</p>` : '');
