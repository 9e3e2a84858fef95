/**
 * Recognising lens-pacs's own outputs in a study. Storing our SR and SEG makes the study unstable again, so
 * Orthanc announces it as a new StableStudy: the pipeline must see that the study only changed by our write.
 */
import { MANUFACTURER } from '../report/imaging-measurement-report';
import type { SeriesSummary } from '../source/study-source';

const OUTPUT_MODALITIES = new Set(['SR', 'SEG']);

/** Why a series is one of our outputs, or undefined when it is not. */
export function ownOutputReason(s: SeriesSummary): string | undefined {
  const modality = (s.modality ?? '').toUpperCase();
  if (!OUTPUT_MODALITIES.has(modality)) return undefined;
  if ((s.manufacturer ?? '').toLowerCase().includes(MANUFACTURER)) return `${modality} series ${s.seriesInstanceUID} made by ${MANUFACTURER} (Manufacturer)`;
  if (/lens-pacs|\blens\b/i.test(s.seriesDescription ?? ''))
    return `${modality} series ${s.seriesInstanceUID} made by ${MANUFACTURER} (SeriesDescription '${s.seriesDescription}')`;
  return undefined;
}

export interface StudyInventory {
  own: { series: SeriesSummary; why: string }[];
  others: SeriesSummary[];
}

export function splitOwnOutputs(series: SeriesSummary[]): StudyInventory {
  const own: StudyInventory['own'] = [];
  const others: SeriesSummary[] = [];
  for (const s of series) {
    const why = ownOutputReason(s);
    if (why) own.push({ series: s, why });
    else others.push(s);
  }
  return { own, others };
}
