/** Instances grouped into series: the unit that series selection ranks and volume assembly turns into a volume. */
import type { InstanceHeader } from './instance-header';
import type { Exclusion } from './volume';

export interface SeriesInfo {
  /** The study most instances name (a stray instance of another study is screened out: series-consistency.ts). */
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** The modality most instances name ('' when most have none). */
  modality: string;
  seriesDescription?: string;
  seriesNumber?: number;
  instances: InstanceHeader[];
  /**
   * Further copies of an instance already in `instances` (another file with the same SOPInstanceUID). Volume
   * assembly compares their pixels: identical copies are dropped with a note, different ones refuse the series.
   */
  duplicates?: InstanceHeader[];
  /** Instances left out of `instances` by series screening, with the reason (Volume.excluded carries them on). */
  excluded?: Exclusion[];
}

/**
 * Groups headers by SeriesInstanceUID. A second header with a SOP instance already seen goes to `duplicates`.
 * Output order is deterministic: by study UID, series number, series UID; instances by SOP Instance UID.
 */
export function groupBySeries(headers: InstanceHeader[]): SeriesInfo[] {
  const bySeries = new Map<string, { first: Map<string, InstanceHeader>; duplicates: InstanceHeader[] }>();
  for (const h of headers) {
    let m = bySeries.get(h.seriesInstanceUID);
    if (!m) bySeries.set(h.seriesInstanceUID, (m = { first: new Map(), duplicates: [] }));
    if (!m.first.has(h.sopInstanceUID)) m.first.set(h.sopInstanceUID, h);
    else m.duplicates.push(h);
  }
  const out: SeriesInfo[] = [];
  for (const [seriesInstanceUID, m] of bySeries) {
    const instances = [...m.first.values()].sort((a, b) => cmp(a.sopInstanceUID, b.sopInstanceUID));
    const first = instances[0];
    out.push({
      studyInstanceUID: mostCommon(instances.map((i) => i.studyInstanceUID)),
      seriesInstanceUID,
      modality: mostCommon(instances.map((i) => i.modality)),
      seriesDescription: first.seriesDescription,
      seriesNumber: first.seriesNumber,
      instances,
      ...(m.duplicates.length ? { duplicates: m.duplicates } : {}),
    });
  }
  return out.sort(
    (a, b) =>
      cmp(a.studyInstanceUID, b.studyInstanceUID) ||
      (a.seriesNumber ?? Infinity) - (b.seriesNumber ?? Infinity) ||
      cmp(a.seriesInstanceUID, b.seriesInstanceUID),
  );
}

/** The value most entries hold; a tie goes to the value seen first (inputs are sorted, so never to file order). */
function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  for (const [v, n] of counts) if (n > counts.get(best)!) best = v;
  return best;
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
