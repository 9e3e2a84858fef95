/**
 * What a harvest walks: the studies of an archive, each read through the study-source seam (the same select and
 * fetch stages as the service), plus the SRs of each study, which the image stages never read.
 *   DicomWebArchive  QIDO-RS over StudyDate windows; WADO-RS metadata of the SR series (their content trees)
 *   FolderArchive    every study in a folder of DICOM files (real CT offline), SR files read from disk
 * Nothing is ever written into the archive.
 */
import fs from 'node:fs';
import { readDatasetWithoutPixelData } from '../dicom/load-folder';
import { LensError } from '../errors';
import { dicomDate } from '../listener/poll-window';
import type { DicomWebClient, DicomJson } from '../pacs/dicomweb';
import { DicomWebStudySource } from '../source/dicomweb-source';
import { FolderStudySource } from '../source/folder-source';
import type { Dataset, StudySource } from '../source/study-source';
import { ByteMeter, ByteRateLimit, throttledSource } from './throttled-source';

export interface HarvestArchive {
  readonly description: string;
  readonly source: StudySource;
  /** Pixel data read from the PACS so far (a PACS archive only). */
  readonly meter?: ByteMeter;
  /** The studies to harvest, in a stable order (a resumed run meets them in the same order). */
  studies(): Promise<string[]>;
  /** The SR datasets of a study, with their content trees. */
  srDatasets(studyInstanceUID: string): Promise<Dataset[]>;
}

/** Days (local midnight) of a StudyDate window; undefined ends are open. */
export interface DateWindow {
  since?: Date;
  until?: Date;
}

/** QIDO-RS StudyDate ranges of at most `days` days covering the window; one open query when both ends are open. */
export function studyDateRanges(w: DateWindow, days: number, today: Date = new Date()): string[] {
  if (!w.since && !w.until) return [''];
  if (!w.since) return [`-${dicomDate(w.until!)}`];
  const out: string[] = [];
  const end = w.until ?? today;
  for (let d = new Date(w.since.getFullYear(), w.since.getMonth(), w.since.getDate()); d <= end; ) {
    const last = new Date(d.getFullYear(), d.getMonth(), d.getDate() + days - 1);
    const to = last < end ? last : end;
    out.push(`${dicomDate(d)}-${dicomDate(to)}`);
    d = new Date(to.getFullYear(), to.getMonth(), to.getDate() + 1);
  }
  // Without an end, studies dated after today (a scanner clock ahead) are still in the last window.
  if (!w.until && out.length) out[out.length - 1] = out[out.length - 1].replace(/-\d{8}$/, '-');
  return out;
}

const STUDY_UID_TAG = '0020000D';
const STUDY_DATE_TAG = '00080020';
const value = (ds: DicomJson, tag: string): string => String(ds[tag]?.Value?.[0] ?? '');

export class DicomWebArchive implements HarvestArchive {
  readonly source: StudySource;
  readonly meter = new ByteMeter();

  /** maxBytesPerSecond: pixel data read at most this fast (0: no limit). */
  constructor(
    private readonly client: DicomWebClient,
    private readonly window: DateWindow,
    private readonly windowDays = 7,
    maxBytesPerSecond = 0,
  ) {
    const source = new DicomWebStudySource(client);
    this.source = throttledSource(source, maxBytesPerSecond > 0 ? new ByteRateLimit(maxBytesPerSecond) : undefined, this.meter);
  }

  get description(): string {
    return `DICOMweb ${this.client.url}`;
  }

  async studies(): Promise<string[]> {
    const found = new Map<string, string>();
    for (const range of studyDateRanges(this.window, this.windowDays)) {
      const query: Record<string, string> = range ? { StudyDate: range } : {};
      for (const ds of await this.client.searchStudies(query, { all: true })) {
        const uid = value(ds, STUDY_UID_TAG);
        if (uid) found.set(uid, value(ds, STUDY_DATE_TAG));
      }
    }
    return [...found.entries()].sort((a, b) => a[1].localeCompare(b[1]) || a[0].localeCompare(b[0])).map(([uid]) => uid);
  }

  async srDatasets(studyInstanceUID: string): Promise<Dataset[]> {
    const out: Dataset[] = [];
    for (const s of await this.source.listSeries(studyInstanceUID)) {
      if ((s.modality ?? '').toUpperCase() !== 'SR') continue;
      out.push(...(await this.client.retrieveSeriesMetadata(studyInstanceUID, s.seriesInstanceUID)));
    }
    return out;
  }
}

export class FolderArchive implements HarvestArchive {
  readonly source: FolderStudySource;

  constructor(readonly dir: string) {
    this.source = new FolderStudySource(dir);
  }

  get description(): string {
    return `folder ${this.dir}`;
  }

  async studies(): Promise<string[]> {
    return [...(await this.source.studies())].sort();
  }

  /**
   * The folder scan keeps an SR file as an instance of its series when its header reads like one, or among the
   * files it could not use; both are looked at, each file read once.
   */
  async srDatasets(studyInstanceUID: string): Promise<Dataset[]> {
    const scan = await this.source.scanned();
    const files = new Set<string>();
    for (const s of scan.series)
      if (s.studyInstanceUID === studyInstanceUID && s.modality.toUpperCase() === 'SR') for (const i of s.instances) if (i.source) files.add(i.source);
    for (const u of scan.unreadable) if (u.sopInstanceUID) files.add(u.file);
    const out: Dataset[] = [];
    for (const f of files) {
      const ds = await readDatasetWithoutPixelData(f);
      if (ds.Modality === 'SR' && ds.StudyInstanceUID === studyInstanceUID) out.push(ds);
    }
    return out;
  }
}

/** A harvest option or list file that is wrong: said in one line by the CLI. */
export class HarvestOptionError extends LensError {
  constructor(message: string) {
    super(message, 'user-input');
  }
}

/** YYYY-MM-DD or YYYYMMDD -> local midnight of that day. */
export function parseDate(v: string | undefined, what: string): Date | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(v.trim());
  const d = m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
  if (!m || !d || d.getMonth() !== Number(m[2]) - 1 || d.getDate() !== Number(m[3])) throw new HarvestOptionError(`${what} must be a date YYYY-MM-DD or YYYYMMDD, got "${v}"`);
  return d;
}

/** One StudyInstanceUID per line; blank lines and lines starting with # are ignored. */
export function readStudyList(file: string): Set<string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new HarvestOptionError(`cannot read the list of completely annotated studies ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const uids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const bad = uids.find((u) => !/^[0-9]+(\.[0-9]+)*$/.test(u));
  if (bad) throw new HarvestOptionError(`${file}: "${bad}" is not a StudyInstanceUID`);
  return new Set(uids);
}
