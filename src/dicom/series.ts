/** Instances grouped into series: the unit that series selection ranks and volume assembly turns into a volume. */
import type { InstanceHeader } from './instance-header';

export interface SeriesInfo {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  modality: string;
  seriesDescription?: string;
  seriesNumber?: number;
  instances: InstanceHeader[];
}

/**
 * Groups headers by SeriesInstanceUID. A SOP instance seen twice (the same file copied, or re-sent) is kept once.
 * Output order is deterministic: by study UID, series number, series UID; instances by SOP Instance UID.
 */
export function groupBySeries(headers: InstanceHeader[]): SeriesInfo[] {
  const bySeries = new Map<string, Map<string, InstanceHeader>>();
  for (const h of headers) {
    let m = bySeries.get(h.seriesInstanceUID);
    if (!m) bySeries.set(h.seriesInstanceUID, (m = new Map()));
    if (!m.has(h.sopInstanceUID)) m.set(h.sopInstanceUID, h);
  }
  const out: SeriesInfo[] = [];
  for (const [seriesInstanceUID, m] of bySeries) {
    const instances = [...m.values()].sort((a, b) => cmp(a.sopInstanceUID, b.sopInstanceUID));
    const first = instances[0];
    out.push({
      studyInstanceUID: first.studyInstanceUID,
      seriesInstanceUID,
      modality: first.modality,
      seriesDescription: first.seriesDescription,
      seriesNumber: first.seriesNumber,
      instances,
    });
  }
  return out.sort(
    (a, b) =>
      cmp(a.studyInstanceUID, b.studyInstanceUID) ||
      (a.seriesNumber ?? Infinity) - (b.seriesNumber ?? Infinity) ||
      cmp(a.seriesInstanceUID, b.seriesInstanceUID),
  );
}

/** A short human label for messages: "series 3 '5mm' (1.2.3...; 64 instances)". */
export function describeSeries(s: SeriesInfo): string {
  const num = s.seriesNumber !== undefined ? `series ${s.seriesNumber}` : 'series';
  const desc = s.seriesDescription ? ` '${s.seriesDescription}'` : '';
  return `${num}${desc} [${s.modality || 'no modality'}] ${s.seriesInstanceUID} (${s.instances.length} instance${s.instances.length === 1 ? '' : 's'})`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
