/**
 * Deterministic DICOM UIDs (2.25 form: the decimal of a 128-bit number, PS3.5 B.2).
 *
 * The SR and SEG of one analysis get UIDs derived from what identifies that analysis (source series, model
 * name and version, object role), so that running the same analysis again produces the same SOP Instance UIDs
 * and the PACS replaces the objects instead of collecting copies.
 */
import { assertUid, deriveUid } from '../dicom/uid';

export { assertUid, deriveUid, isValidUid } from '../dicom/uid';

/** The UIDs of one analysis' derived objects. */
export interface ReportUids {
  srSeries: string;
  srInstance: string;
  segSeries: string;
  segInstance: string;
  deviceObserver: string;
  dimensionOrganization: string;
}

/**
 * `instancesDigest` (pipeline/idempotency.ts instanceSet): the analysed instances are part of what identifies the
 * analysis: a re-analysis of the series with more slices makes new objects (new UIDs: the content differs) that
 * supersede the earlier ones, while the same analysis run again still yields the same UIDs.
 */
export function reportUids(sourceSeriesUid: string, model: { name: string; version: string }, instancesDigest?: string): ReportUids {
  assertUid(sourceSeriesUid, 'source SeriesInstanceUID');
  const base = [sourceSeriesUid, model.name, model.version, ...(instancesDigest ? [instancesDigest] : [])];
  return {
    srSeries: deriveUid(...base, 'sr-series'),
    srInstance: deriveUid(...base, 'sr-instance'),
    segSeries: deriveUid(...base, 'seg-series'),
    segInstance: deriveUid(...base, 'seg-instance'),
    // The device is the model, whatever it analyses.
    deviceObserver: deriveUid('lens-pacs device', model.name, model.version),
    dimensionOrganization: deriveUid(...base, 'seg-dimension-organization'),
  };
}
