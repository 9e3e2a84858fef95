/** The SR and SEG of one analysis as Part 10 buffers, and writing them into a folder. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildImagingMeasurementReport } from './imaging-measurement-report';
import { buildSegmentation } from './segmentation-report';
import type { ReportInput } from './inputs';
import { toPart10 } from './part10';

export interface ReportObject {
  role: 'sr' | 'seg';
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  part10: Buffer;
}

/** The SR always; the SEG when there is at least one lesion. */
export function buildReportObjects(input: ReportInput): ReportObject[] {
  const sr = buildImagingMeasurementReport(input);
  const objects: ReportObject[] = [
    { role: 'sr', studyInstanceUID: sr.dataset.StudyInstanceUID, seriesInstanceUID: sr.seriesInstanceUID, sopInstanceUID: sr.sopInstanceUID, sopClassUID: sr.dataset.SOPClassUID, part10: toPart10(sr.dataset) },
  ];
  const seg = buildSegmentation(input);
  if (seg) {
    objects.push({ role: 'seg', studyInstanceUID: seg.dataset.StudyInstanceUID, seriesInstanceUID: seg.seriesInstanceUID, sopInstanceUID: seg.sopInstanceUID, sopClassUID: seg.dataset.SOPClassUID, part10: toPart10(seg.dataset) });
  }
  return objects;
}

/**
 * Writes sr.dcm and (when there are lesions) seg.dcm into outDir; a seg.dcm left from an earlier run of the same
 * folder is removed so that the folder always describes this analysis.
 */
export async function writeReportFiles(
  result: { findings: ReportInput['findings']; masks?: ReportInput['masks'] },
  volume: ReportInput['volume'],
  sourceDataset: ReportInput['sourceDataset'],
  outDir: string,
): Promise<{ objects: ReportObject[]; files: string[] }> {
  const objects = buildReportObjects({ findings: result.findings, masks: result.masks, volume, sourceDataset });
  return { objects, files: await writeReportObjects(objects, outDir) };
}

/** Writes built objects as `<role>.dcm` into outDir (a stale seg.dcm goes when there is no SEG); the paths. */
export async function writeReportObjects(objects: ReportObject[], outDir: string): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (const o of objects) {
    const f = path.join(outDir, `${o.role}.dcm`);
    await fs.writeFile(f, o.part10);
    files.push(f);
  }
  if (!objects.some((o) => o.role === 'seg')) await fs.rm(path.join(outDir, 'seg.dcm'), { force: true });
  return files;
}
