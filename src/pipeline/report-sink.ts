/**
 * Where the store stage puts an analysis: the service stores the SR and SEG into the study by STOW-RS and reads
 * them back (src/report storeAndVerify); `lens detect` writes findings.json, sr.dcm and seg.dcm into a folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Findings } from '../detect/findings';
import type { DicomWebClient } from '../pacs/dicomweb';
import { findStoredReport, storeAndVerify, writeReportObjects, type StoredReportFound } from '../report';
import type { ReportUids } from '../report/uid';
import type { ReportObjects } from './stages';

export interface ReportSink {
  /** For messages: "DICOMweb http://...", "folder out/". */
  readonly description: string;
  /** Puts the report where it belongs; returns where each part went (journey, CLI output). */
  store(report: ReportObjects): Promise<string[]>;
  /** The complete report of an analysis, when the sink already holds it (a worker died after storing it). */
  findStored?(studyInstanceUID: string, uids: ReportUids): Promise<StoredReportFound | undefined>;
}

export class DicomWebReportSink implements ReportSink {
  constructor(private readonly client: Pick<DicomWebClient, 'url' | 'storeInstances' | 'retrieveSeriesMetadata' | 'searchInstances'>) {}

  get description(): string {
    return `DICOMweb ${this.client.url}`;
  }

  async store(report: ReportObjects): Promise<string[]> {
    const { verified } = await storeAndVerify(this.client, report.objects);
    return verified.map((v) => `${v.role} series ${v.seriesInstanceUID}`);
  }

  findStored(studyInstanceUID: string, uids: ReportUids): Promise<StoredReportFound | undefined> {
    return findStoredReport(this.client, studyInstanceUID, uids);
  }
}

export class FileReportSink implements ReportSink {
  constructor(readonly dir: string) {}

  get description(): string {
    return `folder ${this.dir}`;
  }

  /** findings.json alone: also written when the SR/SEG cannot be, so that the findings are never lost. */
  async writeFindings(findings: Findings): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, 'findings.json');
    await fs.writeFile(file, JSON.stringify(findings, null, 2) + '\n');
    return file;
  }

  /** findings.json, then sr.dcm and seg.dcm when the report was built (no objects: findings only). */
  async store(report: ReportObjects): Promise<string[]> {
    const findings = await this.writeFindings(report.detection.findings);
    return report.objects.length ? [findings, ...(await writeReportObjects(report.objects, this.dir))] : [findings];
  }
}
