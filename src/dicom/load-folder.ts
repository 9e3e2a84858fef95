/**
 * DICOM Part 10 files in a folder (recursively) -> series headers, and the selected series -> Volume.
 * Headers are read with dcmjs up to PixelData, so a scan keeps no pixel data; frames are read from their file
 * again when the volume is assembled.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { SelectionRules } from '../config/schema';
import { assembleVolume, type AssembleOptions, type ReadFrame } from './assemble-volume';
import { identifyPart10, readPart10, uidsOf } from './part10';
import { decodeFrame, DicomDecodeError } from './decode';
import { headerFromDataset, DicomHeaderError, type InstanceHeader } from './instance-header';
import { DicomLimitError } from './limits';
import { checkPixelDataExtent, frameBytes } from './pixel-data';
import { selectSeries, SelectionError, type SeriesSelection } from './select-series';
import { groupBySeries, type SeriesInfo } from './series';
import type { Exclusion, Volume } from './volume';
import { LensError } from '../errors';

export interface UnreadableFile {
  file: string;
  reason: string;
  /** The series and instance the file belongs to, when the part of it that could be read says so. */
  seriesInstanceUID?: string;
  sopInstanceUID?: string;
}

export interface FolderScan {
  series: SeriesInfo[];
  unreadable: UnreadableFile[];
}

export class FolderError extends LensError {
  constructor(message: string) {
    super(message, 'folder-invalid');
  }
}

const DICOMDIR_SOP_CLASS = '1.2.840.10008.1.3.10';
/** Deflated datasets are not walked before parsing (part10-bounds.ts), so their PixelData is not measured. */
const DEFLATED = '1.2.840.10008.1.2.1.99';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries = await fs.promises.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Reads one file's header; a reason string when it is not a usable DICOM instance. */
export async function readHeader(file: string): Promise<InstanceHeader | string> {
  const r = await readFileHeader(file);
  return 'header' in r ? r.header : r.reason;
}

/**
 * A file that is not a usable instance: the reason, and the series and instance it belongs to when the part of it
 * that can be read says so (a truncated slice), so that its series names it as excluded.
 */
type Unusable = Omit<UnreadableFile, 'file'>;

async function readFileHeader(file: string): Promise<{ header: InstanceHeader } | Unusable> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    return { reason: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const r = readPart10(buf, { headerOnly: true });
  if (typeof r === 'string') return { reason: r, ...identifyPart10(buf) };
  if (r.meta.MediaStorageSOPClassUID === DICOMDIR_SOP_CLASS) return { reason: 'DICOMDIR (media index, no image)' };
  const unusable = (reason: string): Unusable => ({ reason, ...uidsOf(r.dataset) });
  let h: InstanceHeader;
  try {
    h = headerFromDataset(r.dataset, r.transferSyntaxUID);
  } catch (e) {
    if (e instanceof DicomLimitError) return unusable(e.message);
    if (e instanceof DicomHeaderError) return unusable(`not an image instance: ${e.message}`);
    throw e;
  }
  h.source = file;
  // Reading up to PixelData does not look at it: what the header says of it is checked against what it holds.
  if (r.transferSyntaxUID !== DEFLATED) {
    try {
      checkPixelDataExtent(h, r.pixelData);
    } catch (e) {
      if (e instanceof DicomHeaderError) return unusable(e.message);
      throw e;
    }
  }
  return { header: h };
}

/**
 * Every readable DICOM instance under dir, grouped into series; every other file with the reason. A file that
 * could not be read but names its series (a truncated slice) is also listed in that series' `excluded`, so that
 * whoever analyses the series says the file was left out (Volume.excluded, `tolerated`), never drops it silently.
 */
export async function scanDicomFolder(dir: string): Promise<FolderScan> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(dir);
  } catch {
    throw new FolderError(`${dir}: no such file or folder`);
  }
  const files = stat.isDirectory() ? await listFiles(dir) : [dir];
  const headers: InstanceHeader[] = [];
  const unreadable: UnreadableFile[] = [];
  for (const file of files) {
    const r = await readFileHeader(file);
    if ('header' in r) headers.push(r.header);
    else unreadable.push({ file, ...r });
  }
  const series = groupBySeries(headers).map((s) => {
    const excluded: Exclusion[] = unreadable
      .filter((u) => u.seriesInstanceUID === s.seriesInstanceUID)
      .map((u) => ({ ...(u.sopInstanceUID ? { sopInstanceUID: u.sopInstanceUID } : {}), file: path.basename(u.file), reason: u.reason }));
    return excluded.length ? { ...s, excluded: [...(s.excluded ?? []), ...excluded] } : s;
  });
  return { series, unreadable };
}

/**
 * A frame reader over files: decodes frames of the instances of `series` from their files. The last file read is
 * kept, so the frames of one multi-frame file are not re-read for every frame.
 */
export function fileFrameReader(series: Pick<SeriesInfo, 'instances'>): ReadFrame {
  const bySop = new Map(series.instances.map((i) => [i.sopInstanceUID, i]));
  let cached: { file: string; pixelData: unknown } | undefined;
  return async (sop, frameNumber, instance) => {
    const h = instance ?? bySop.get(sop);
    if (!h?.source) throw new FolderError(`instance ${sop} is not in the scanned series`);
    const ts = h.transferSyntaxUID ?? '1.2.840.10008.1.2';
    let pixelData: unknown;
    if (cached?.file === h.source) pixelData = cached.pixelData;
    else {
      const r = readPart10(await fs.promises.readFile(h.source), { headerOnly: false });
      if (typeof r === 'string') throw new DicomDecodeError(ts, `${h.source}: ${r}`);
      pixelData = r.dataset.PixelData;
      if (h.numberOfFrames > 1) cached = { file: h.source, pixelData };
    }
    try {
      return decodeFrame(frameBytes(pixelData, h, ts, frameNumber), ts, h);
    } catch (e) {
      if (e instanceof DicomDecodeError) e.message = `${path.basename(h.source)}: ${e.message}`;
      throw e;
    }
  };
}

export interface LoadedVolume {
  volume: Volume;
  selection: SeriesSelection;
  series: SeriesInfo;
  /** Naturalized dataset of one source instance without PixelData (patient/study modules for SR/SEG). */
  firstDataset: Record<string, any>;
  unreadable: UnreadableFile[];
  notes: string[];
}

/** Scans dir, selects a series by the rules and assembles its volume. Throws SelectionError when none qualifies. */
export async function loadSelectedVolume(dir: string, rules: SelectionRules, opts: AssembleOptions = {}): Promise<LoadedVolume> {
  const scan = await scanDicomFolder(dir);
  assertSomethingReadable(scan, dir);
  const selection = selectSeries(scan.series, rules, opts);
  if (!selection.selected) throw new SelectionError(selection);
  const series = selection.selected;
  const notes: string[] = [];
  const volume = await assembleVolume(series, fileFrameReader(series), {
    ...opts,
    tolerated: selection.tolerated,
    onNote: (n) => {
      notes.push(n);
      opts.onNote?.(n);
    },
  });
  const firstSop = volume.slices[0].sopInstanceUID;
  const firstDataset = await readDatasetWithoutPixelData(series.instances.find((i) => i.sopInstanceUID === firstSop)!.source!);
  return { volume, selection, series, firstDataset, unreadable: scan.unreadable, notes };
}

/** One file's naturalized dataset without PixelData (patient/study modules for SR/SEG); {} when unreadable. */
export async function readDatasetWithoutPixelData(file: string): Promise<Record<string, any>> {
  const r = readPart10(await fs.promises.readFile(file), { headerOnly: true });
  const dataset = typeof r === 'string' ? {} : r.dataset;
  delete dataset.PixelData;
  return dataset;
}

/** Throws FolderError, naming the unreadable files, when the scan found no DICOM instance at all. */
export function assertSomethingReadable(scan: FolderScan, dir: string): void {
  if (scan.series.length > 0) return;
  throw new FolderError(scan.unreadable.length ? `no readable DICOM in ${dir}: ${summariseUnreadable(scan.unreadable)}` : `no files in ${dir}`);
}

/** "3 files: a.dcm (not DICOM ...), ..." with at most five named. */
export function summariseUnreadable(list: UnreadableFile[]): string {
  const shown = list.slice(0, 5).map((u) => `${path.basename(u.file)} (${u.reason})`);
  return `${list.length} unreadable file${list.length === 1 ? '' : 's'}: ${shown.join(', ')}${list.length > 5 ? ', ...' : ''}`;
}
