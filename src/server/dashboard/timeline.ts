/**
 * A job's journey as people read it: each event in words, when it happened, how long after the previous one,
 * how long its stage took, and its details as short `name: value` lines instead of raw JSON.
 */
import type { JourneyEvent, JourneyEventName } from '../../jobs/types';
import { duration, esc, time } from './layout';

// Partial: an event added to JOURNEY_EVENTS later is shown by its name until it gets words here.
const LABELS: Partial<Record<JourneyEventName, string>> = {
  received: 'Event received',
  claimed: 'Taken up by a worker',
  'stage-started': 'Stage started',
  selected: 'Series selected',
  fetched: 'Images fetched',
  detected: 'Lesions detected',
  built: 'SR and SEG built',
  stored: 'SR and SEG stored in the PACS',
  'already-stored': 'Report found already stored',
  skipped: 'Skipped',
  error: 'Failed',
  retry: 'Retry scheduled',
  dead: 'Given up (dead)',
  'lease-expired': 'Worker lost (lease expired)',
  quarantined: 'Quarantined',
  redriven: 'Re-driven',
  resumed: 'Resumed after an outage',
  'harvest-progress': 'Harvest progress',
};

export interface TimelineEntry {
  at: number;
  label: string;
  /** Since the previous event (none for the first). */
  sincePreviousMs?: number;
  /** How long the stage the event ends took (details.ms of the stage events). */
  stageMs?: number;
  details: string[];
}

const MAX_LIST = 5;

function value(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null)) return v.slice(0, MAX_LIST).join(', ') + (v.length > MAX_LIST ? `, … (${v.length})` : '');
    return `${v.length} item${v.length === 1 ? '' : 's'}`;
  }
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => typeof x !== 'object' || x === null)
      .map(([k, x]) => `${k} ${String(x)}`)
      .join(', ');
  }
  return String(v);
}

/** The journey in order, with the time between events and each stage's duration. */
export function timeline(journey: JourneyEvent[]): TimelineEntry[] {
  return journey.map((e, i) => {
    const { ms, ...rest } = (e.details ?? {}) as Record<string, unknown> & { ms?: unknown };
    const label = e.event === 'stage-started' && typeof rest.stage === 'string' ? `Stage ${rest.stage} started` : (LABELS[e.event] ?? e.event);
    if (e.event === 'stage-started') delete rest.stage;
    return {
      at: e.at,
      label,
      ...(i > 0 ? { sincePreviousMs: e.at - journey[i - 1].at } : {}),
      ...(typeof ms === 'number' ? { stageMs: ms } : {}),
      details: Object.entries(rest)
        .map(([k, v]) => [k, value(v)] as const)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `${k}: ${v}`),
    };
  });
}

export function renderTimeline(journey: JourneyEvent[]): string {
  if (!journey.length) return '<p class="muted">no events</p>';
  const total = journey.length > 1 ? ` <span class="muted">(${duration(journey[journey.length - 1].at - journey[0].at)} from first to last event)</span>` : '';
  const items = timeline(journey)
    .map(
      (t) => `<li class="event"><b>${esc(t.label)}</b>${t.stageMs !== undefined ? ` in ${esc(duration(t.stageMs))}` : ''}
<div class="when">${esc(time(t.at))}${t.sincePreviousMs !== undefined ? ` · +${esc(duration(t.sincePreviousMs))}` : ''}</div>${
        t.details.length ? `<div class="detail">${t.details.map(esc).join('<br>')}</div>` : ''
      }</li>`,
    )
    .join('\n');
  return `<h2>Journey${total}</h2><ol class="timeline">${items}</ol>`;
}
