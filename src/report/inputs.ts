/** What the report builders take, and the checks that turn bad input into a clear error. */
import type { Findings, Lesion } from '../detect/findings';
import type { Volume, SliceRef } from '../dicom/volume';
import type { LesionMask } from '../detect/lesions';
import type { ImageReference } from './sr/content-items';
import { assertUid } from './uid';

/** A model's mask for one lesion (DetectionResult.masks): per slice a crop at (x0, y0), non-zero = lesion. */
export type LesionMaskInput = LesionMask;

export interface ReportInput {
  findings: Findings;
  volume: Volume;
  /** Naturalized dataset of one source image (patient and study modules are copied from it). */
  sourceDataset: Record<string, any>;
  /** Lesion id -> model mask; lesions without one get a box-fitted ellipsoid. */
  masks?: Map<number, LesionMaskInput>;
  /** Content date/time of the objects (now when absent). */
  contentDate?: Date;
  /** What the analysis covered and what its report replaces (the pipeline sets it; builders' callers may not). */
  analysis?: ReportAnalysis;
}

export interface ReportAnalysis {
  /** Digest of the analysed instances (pipeline/idempotency.ts): part of the objects' UIDs (uid.ts). */
  instancesDigest: string;
  /** Earlier SRs of lens-pacs in the study that this report supersedes (SR Predecessor Documents Sequence). */
  predecessors?: { seriesInstanceUID: string; sopInstanceUID: string }[];
}

/** "Analysed: series 3 1.2.3..., 134 slices": a TEXT Comment of the SR (which series, how many slices). */
export function analysedComment(volume: Pick<Volume, 'seriesInstanceUID' | 'slices'>, seriesNumber?: number): string {
  const n = volume.slices.length;
  return `Analysed: series ${seriesNumber !== undefined ? `${seriesNumber} ` : ''}${volume.seriesInstanceUID}, ${n} slice${n === 1 ? '' : 's'}`;
}

export function validateReportInput(input: ReportInput): void {
  const { findings, volume, sourceDataset } = input;
  if (!findings || !Array.isArray(findings.lesions)) throw new Error('findings: a Findings object with a lesions array is required');
  if (!findings.model?.name || !findings.model?.version) throw new Error('findings.model: name and version are required');
  if (!/^[\w.\-+]+$/.test(findings.model.name) || !/^[\w.\-+]+$/.test(findings.model.version)) {
    throw new Error(`findings.model: name and version may hold letters, digits and . - + _ only (got "${findings.model.name}" "${findings.model.version}")`);
  }
  if (!volume || !Array.isArray(volume.slices) || volume.slices.length === 0) throw new Error('volume: a Volume with slices is required');
  assertUid(volume.seriesInstanceUID, 'volume.seriesInstanceUID');
  assertUid(volume.frameOfReferenceUID, 'volume.frameOfReferenceUID');
  if (findings.seriesInstanceUID && findings.seriesInstanceUID !== volume.seriesInstanceUID) {
    throw new Error(`findings are of series ${findings.seriesInstanceUID} but the volume is series ${volume.seriesInstanceUID}`);
  }
  if (!sourceDataset || sourceDataset.StudyInstanceUID !== volume.studyInstanceUID) {
    throw new Error(`sourceDataset: StudyInstanceUID ${sourceDataset?.StudyInstanceUID} does not match the volume's ${volume.studyInstanceUID}`);
  }
  const ids = new Set<number>();
  const uids = new Set<string>();
  for (const l of findings.lesions) {
    const what = `lesion ${l?.id}`;
    if (!Number.isInteger(l.id) || l.id < 1 || ids.has(l.id)) throw new Error(`${what}: id must be a unique positive integer`);
    ids.add(l.id);
    assertUid(l.trackingUid, `${what}: trackingUid`);
    if (uids.has(l.trackingUid)) throw new Error(`${what}: trackingUid ${l.trackingUid} is used twice`);
    uids.add(l.trackingUid);
    if (!Array.isArray(l.bboxLPS) || l.bboxLPS.length !== 6 || !l.bboxLPS.every(Number.isFinite)) throw new Error(`${what}: bboxLPS must be 6 numbers`);
    if (!(l.bboxLPS[3] > l.bboxLPS[0] && l.bboxLPS[4] > l.bboxLPS[1] && l.bboxLPS[5] > l.bboxLPS[2])) throw new Error(`${what}: bboxLPS is empty or inverted`);
    for (const k of ['score', 'longAxisMm', 'shortAxisMm'] as const) {
      if (typeof l[k] !== 'number' || !Number.isFinite(l[k]) || l[k] < 0) throw new Error(`${what}: ${k} must be a non-negative number`);
    }
    keySliceRef(volume, l); // throws when the key slice is not in the volume
  }
}

/** The source image (and frame) that holds a lesion's key slice. */
export function keySliceRef(volume: Volume, lesion: Lesion): ImageReference {
  const ks = lesion.keySlice;
  if (!ks?.sopInstanceUID || !Array.isArray(ks.box) || ks.box.length !== 4) throw new Error(`lesion ${lesion.id}: keySlice with sopInstanceUID and box is required`);
  const matches = volume.slices.filter((s) => s.sopInstanceUID === ks.sopInstanceUID);
  const slice = matches.find((s) => s.frameNumber === (ks.frameNumber ?? s.frameNumber));
  if (!slice) throw new Error(`lesion ${lesion.id}: key slice ${ks.sopInstanceUID} is not an image of series ${volume.seriesInstanceUID}`);
  return imageRef(volume, slice);
}

/** Frame numbers only for multi-frame sources. */
export function imageRef(volume: Volume, slice: SliceRef): ImageReference {
  const multiFrame = volume.slices.filter((s) => s.sopInstanceUID === slice.sopInstanceUID).length > 1;
  return multiFrame
    ? { sopClassUID: slice.sopClassUID, sopInstanceUID: slice.sopInstanceUID, frameNumber: slice.frameNumber }
    : { sopClassUID: slice.sopClassUID, sopInstanceUID: slice.sopInstanceUID };
}

export function modelLabel(findings: Findings): string {
  return `${findings.model.name} ${findings.model.version}`;
}
