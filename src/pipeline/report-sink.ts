/**
 * Where the store stage puts an analysis: the service stores the SR and SEG into the study by STOW-RS and reads
 * them back (src/report storeAndVerify), or by C-STORE to a PACS without STOW-RS, confirmed by C-FIND (studies
 * received by the service's own SCP, src/dimse); `lens detect` writes findings.json, sr.dcm and seg.dcm into a folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Findings } from '../detect/findings';
import { orthancDeleteSeries, type OrthancRestConfig } from '../listener/orthanc-rest';
import { log } from '../log';
import type { CommitmentOptions, CommitmentRecord } from '../dimse/commit';
import type { DimsePeer, ScuOptions } from '../dimse/scu';
import type { DicomWebClient } from '../pacs/dicomweb';
import { findStoredReport, ReportVerificationError, storeAndVerify, writeReportObjects, type StoredReportFound } from '../report';
import { srSummary } from '../report/store';
import type { ReportUids } from '../report/uid';
import type { ReportObjects } from './stages';

/** Where each part went (CLI output), and how the peer confirmed it where that is not evident (the journey). */
export interface SinkStored {
  locations: string[];
  confirmation?: Record<string, unknown>;
}

export interface ReportSink {
  /** For messages: "DICOMweb http://...", "folder out/". */
  readonly description: string;
  /** Puts the report where it belongs. */
  store(report: ReportObjects): Promise<SinkStored>;
  /** The complete report of an analysis, when the sink already holds it (a worker died after storing it). */
  findStored?(studyInstanceUID: string, uids: ReportUids): Promise<StoredReportFound | undefined>;
  /**
   * Removes earlier report series that a re-analysis superseded, where the sink can (Orthanc's REST API); a series
   * that cannot be removed is kept (the new SR names the old one as its predecessor). Never throws: the new report
   * is stored, and a failed removal must not make the job analyse the study again.
   */
  removeSuperseded?(studyInstanceUID: string, seriesInstanceUIDs: string[]): Promise<{ removed: string[]; kept: string[] }>;
}

export class DicomWebReportSink implements ReportSink {
  constructor(
    private readonly client: Pick<DicomWebClient, 'url' | 'storeInstances' | 'retrieveSeriesMetadata' | 'searchInstances'>,
    /** Orthanc's REST API, when configured: superseded report series are deleted there (DICOMweb has no delete). */
    private readonly orthanc?: OrthancRestConfig,
  ) {}

  async removeSuperseded(studyInstanceUID: string, seriesInstanceUIDs: string[]): Promise<{ removed: string[]; kept: string[] }> {
    const removed: string[] = [];
    const kept: string[] = [];
    for (const uid of seriesInstanceUIDs) {
      if (!this.orthanc) {
        kept.push(uid);
        continue;
      }
      try {
        if (await orthancDeleteSeries(this.orthanc, uid)) removed.push(uid);
      } catch (e) {
        log.warn('superseded report series not removed (kept; the new SR names it as predecessor)', { studyInstanceUID, seriesInstanceUID: uid, error: (e as Error).message });
        kept.push(uid);
      }
    }
    return { removed, kept };
  }

  get description(): string {
    return `DICOMweb ${this.client.url}`;
  }

  async store(report: ReportObjects): Promise<SinkStored> {
    const { verified } = await storeAndVerify(this.client, report.objects);
    return { locations: verified.map((v) => `${v.role} series ${v.seriesInstanceUID}`) };
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
  async store(report: ReportObjects): Promise<SinkStored> {
    const findings = await this.writeFindings(report.detection.findings);
    return { locations: report.objects.length ? [findings, ...(await writeReportObjects(report.objects, this.dir))] : [findings] };
  }
}

/**
 * C-STORE to a DICOM peer (a PACS without STOW-RS), then storage commitment where the peer offers it (src/dimse/
 * commit.ts: the peer takes responsibility for both objects), else, when the peer answers C-FIND, a check that each
 * object's series holds exactly that object (IMAGE level): what the DICOMweb sink's read-back checks, as far as
 * C-FIND can tell. The SR is sent last: a peer holding the SR holds the whole report.
 * An earlier attempt's report is recognised (findStored) by C-FIND of the SR, and its lesion count read from the
 * SR fetched by C-GET; a peer without C-FIND (confirm false) or C-GET cannot tell, and the report is sent again.
 */
/** dcmjs-dimse takes about a second to load: only a service that sends by C-STORE pays for it. */
const dimseScu = () => require('../dimse/scu') as typeof import('../dimse/scu');
const dimseCommit = () => require('../dimse/commit') as typeof import('../dimse/commit');

export class DimseReportSink implements ReportSink {
  constructor(
    private readonly peer: DimsePeer & { confirm: boolean },
    private readonly scu: ScuOptions,
    /** Absent: no commitment asked (as mode 'off'). */
    private readonly commitment?: CommitmentOptions,
  ) {}

  get description(): string {
    return `DICOM ${this.peer.aeTitle}@${this.peer.host}:${this.peer.port}`;
  }

  async store(report: ReportObjects): Promise<SinkStored> {
    const objects = [...report.objects].sort((a, b) => (a.role === 'sr' ? 1 : 0) - (b.role === 'sr' ? 1 : 0));
    if (objects.length === 0) return { locations: [] };
    const { cFind, cStore } = dimseScu();
    await cStore(this.peer, objects, this.scu);
    let commitment: CommitmentRecord | undefined;
    if (this.commitment && this.commitment.mode !== 'off') {
      commitment = await dimseCommit().commitStored(this.peer, objects.map((o) => ({ sopClassUID: o.sopClassUID, sopInstanceUID: o.sopInstanceUID })), this.scu, this.commitment);
    }
    const committed = commitment?.state === 'committed';
    if (this.peer.confirm && !committed) {
      const problems: string[] = [];
      for (const o of objects) {
        const found = await cFind(this.peer, 'IMAGE', {
          StudyInstanceUID: o.studyInstanceUID, SeriesInstanceUID: o.seriesInstanceUID, SOPInstanceUID: '', SOPClassUID: '',
        }, this.scu);
        const sops = found.map((f) => String(f.SOPInstanceUID ?? ''));
        if (!sops.includes(o.sopInstanceUID)) problems.push(`${o.role} ${o.sopInstanceUID} not found by C-FIND in series ${o.seriesInstanceUID}`);
        else if (sops.length !== 1) problems.push(`${o.role} series ${o.seriesInstanceUID} holds ${sops.length} instances, expected 1`);
      }
      if (problems.length) throw new ReportVerificationError(problems);
    }
    const how = committed ? 'committed (storage commitment)' : this.peer.confirm ? 'confirmed by C-FIND' : 'not confirmed (dimse.destination.confirm false)';
    const confirmation = {
      by: committed ? 'storage commitment' : this.peer.confirm ? 'C-FIND' : 'none',
      ...(commitment ? { storageCommitment: commitment } : {}),
    };
    return { locations: objects.map((o) => `${o.role} series ${o.seriesInstanceUID} by C-STORE to ${this.peer.aeTitle}, ${how}`), confirmation };
  }

  async findStored(studyInstanceUID: string, uids: ReportUids): Promise<StoredReportFound | undefined> {
    if (!this.peer.confirm) return undefined;
    const { cFind, cGetInstance } = dimseScu();
    const has = async (series: string, sop: string) =>
      (await cFind(this.peer, 'IMAGE', { StudyInstanceUID: studyInstanceUID, SeriesInstanceUID: series, SOPInstanceUID: sop }, this.scu)).length > 0;
    if (!(await has(uids.srSeries, uids.srInstance))) return undefined;
    let sr: Record<string, unknown> | undefined;
    try {
      sr = await cGetInstance(this.peer, { studyInstanceUID, seriesInstanceUID: uids.srSeries, sopInstanceUID: uids.srInstance }, this.scu);
    } catch (e) {
      log.warn('stored SR found by C-FIND but not fetched by C-GET: the report is sent again', { studyInstanceUID, error: (e as Error).message });
    }
    if (!sr) return undefined;
    const lesionCount = srSummary(sr).trackingUids.length;
    const outputs: StoredReportFound['outputs'] = { srSeriesUID: uids.srSeries, srSopInstanceUID: uids.srInstance };
    if (lesionCount === 0) return { outputs, lesionCount };
    // The SEG is sent before the SR: it is there unless someone removed it since.
    if (!(await has(uids.segSeries, uids.segInstance))) return undefined;
    return { outputs: { ...outputs, segSeriesUID: uids.segSeries, segSopInstanceUID: uids.segInstance }, lesionCount };
  }
}
