/** Storing the SR and SEG into the source study by STOW-RS, then reading them back to check what the PACS holds. */
import type { DicomWebClient, StoreResult } from '../pacs/dicomweb';
import type { ReportObject } from './report-objects';
import { fromPart10 } from './part10';
import { log } from '../log';
import { LensError } from '../errors';
import type { ReportUids } from './uid';

/**
 * Transient: some PACS index what STOW-RS accepted only a little later, so a read-back can miss objects that a
 * later try finds; the job's bounded retries end it with these problems named.
 */
export class ReportVerificationError extends LensError {
  constructor(readonly problems: string[]) {
    super(`report objects not stored as sent: ${problems.join('; ')}`, 'verify-failed', true);
  }
}

export interface StoreAndVerifyResult {
  store: StoreResult;
  verified: { role: ReportObject['role']; sopInstanceUID: string; seriesInstanceUID: string }[];
}

/** The attributes that must read back as written. */
const KEY_ATTRIBUTES = ['SOPClassUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'Modality', 'SeriesDescription', 'SeriesNumber', 'InstanceNumber', 'NumberOfFrames'];

/**
 * STOW-RS of all objects into their study (every failed instance is an error: the client throws StoreError),
 * then WADO-RS metadata of each object's series: the object is there, its key attributes are as written, its
 * content summary matches (SR measurement groups, SEG segments), and the series holds nothing else (a re-run
 * replaces, never adds).
 */
export async function storeAndVerify(
  client: Pick<DicomWebClient, 'storeInstances' | 'retrieveSeriesMetadata'>,
  objects: ReportObject[],
): Promise<StoreAndVerifyResult> {
  if (!Array.isArray(objects) || objects.length === 0) throw new Error('storeAndVerify: no objects to store');
  const studies = [...new Set(objects.map((o) => o.studyInstanceUID))];
  if (studies.length !== 1) throw new Error(`storeAndVerify: objects belong to ${studies.length} studies; store one study at a time`);
  const store = await client.storeInstances(
    objects.map((o) => o.part10.buffer.slice(o.part10.byteOffset, o.part10.byteOffset + o.part10.byteLength) as ArrayBuffer),
    { studyInstanceUID: studies[0] },
  );
  const problems: string[] = [];
  for (const o of objects) {
    if (!store.stored.some((s) => s.sopInstanceUID === o.sopInstanceUID)) problems.push(`${o.role} ${o.sopInstanceUID} missing from the STOW-RS response`);
  }
  const verified: StoreAndVerifyResult['verified'] = [];
  for (const o of objects) {
    const meta = await client.retrieveSeriesMetadata(o.studyInstanceUID, o.seriesInstanceUID);
    const found = meta.filter((m) => m.SOPInstanceUID === o.sopInstanceUID);
    if (found.length === 0) {
      problems.push(`${o.role} ${o.sopInstanceUID} not found in series ${o.seriesInstanceUID}`);
      continue;
    }
    if (meta.length !== 1) problems.push(`${o.role} series ${o.seriesInstanceUID} holds ${meta.length} instances, expected 1`);
    const sent = fromPart10(o.part10);
    const got = found[0];
    for (const k of KEY_ATTRIBUTES) {
      if (sent[k] === undefined) continue;
      if (String(sent[k]) !== String(got[k])) problems.push(`${o.role} ${k}: sent ${JSON.stringify(sent[k])}, PACS has ${JSON.stringify(got[k])}`);
    }
    const summary = (ds: Record<string, any>) => JSON.stringify(o.role === 'sr' ? srSummary(ds) : segSummary(ds));
    if (summary(sent) !== summary(got)) problems.push(`${o.role} content: sent ${summary(sent)}, PACS has ${summary(got)}`);
    verified.push({ role: o.role, sopInstanceUID: o.sopInstanceUID, seriesInstanceUID: o.seriesInstanceUID });
  }
  if (problems.length) throw new ReportVerificationError(problems);
  log.info('report objects stored and verified', { study: studies[0], objects: verified.map((v) => `${v.role}:${v.sopInstanceUID}`) });
  return { store, verified };
}

/** Tracking UIDs of the measurement groups, in order. */
export function srSummary(ds: Record<string, any>): { template?: string; trackingUids: string[] } {
  const content = asArray(ds.ContentSequence);
  const measurements = content.find((c) => code(c.ConceptNameCodeSequence) === '126010');
  const groups = asArray(measurements?.ContentSequence).filter((g) => code(g.ConceptNameCodeSequence) === '125007');
  return {
    template: asArray(ds.ContentTemplateSequence)[0]?.TemplateIdentifier,
    trackingUids: groups.map((g) => asArray(g.ContentSequence).find((c) => c.ValueType === 'UIDREF')?.UID),
  };
}

export function segSummary(ds: Record<string, any>): { segments: { label: string; trackingUid: string }[] } {
  return { segments: asArray(ds.SegmentSequence).map((s) => ({ label: s.SegmentLabel, trackingUid: s.TrackingUID })) };
}

function asArray(v: any): any[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}
function code(seq: any): string | undefined {
  return asArray(seq)[0]?.CodeValue;
}

/** An analysis' SR (and SEG) found in the PACS under their deterministic UIDs (uid.ts reportUids). */
export interface StoredReportFound {
  outputs: { srSeriesUID: string; srSopInstanceUID: string; segSeriesUID?: string; segSopInstanceUID?: string };
  /** Measurement groups of the stored SR. */
  lesionCount: number;
}

/**
 * Whether the PACS already holds the complete report of an analysis: the SR under its deterministic UIDs and,
 * when the SR lists lesions, the SEG with a segment for each of them (same tracking UIDs). A worker killed after
 * STOW-RS leaves exactly this behind; anything less (no SR, an SR without its SEG) is not a stored report.
 */
export async function findStoredReport(
  client: Pick<DicomWebClient, 'searchInstances' | 'retrieveSeriesMetadata'>,
  studyInstanceUID: string,
  uids: Pick<ReportUids, 'srSeries' | 'srInstance' | 'segSeries' | 'segInstance'>,
): Promise<StoredReportFound | undefined> {
  const instance = async (series: string, sop: string) => {
    // QIDO first: a series the PACS does not hold is an empty answer, not an HTTP error.
    if ((await client.searchInstances(studyInstanceUID, series, { SOPInstanceUID: sop })).length === 0) return undefined;
    return (await client.retrieveSeriesMetadata(studyInstanceUID, series)).find((m) => m.SOPInstanceUID === sop);
  };
  const sr = await instance(uids.srSeries, uids.srInstance);
  if (!sr) return undefined;
  const { trackingUids } = srSummary(sr);
  const outputs: StoredReportFound['outputs'] = { srSeriesUID: uids.srSeries, srSopInstanceUID: uids.srInstance };
  if (trackingUids.length === 0) return { outputs, lesionCount: 0 };
  const seg = await instance(uids.segSeries, uids.segInstance);
  if (!seg) return undefined;
  const segmented = new Set(segSummary(seg).segments.map((s) => s.trackingUid));
  if (!trackingUids.every((t) => segmented.has(t))) return undefined;
  return { outputs: { ...outputs, segSeriesUID: uids.segSeries, segSopInstanceUID: uids.segInstance }, lesionCount: trackingUids.length };
}
