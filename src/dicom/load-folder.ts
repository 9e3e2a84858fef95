/**
 * DICOM Part 10 files in a folder (recursively) -> series headers, and the selected series -> Volume.
 * Headers are read with dcmjs up to PixelData, so a scan keeps no pixel data; frames are read from their file
 * again when the volume is assembled.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { SelectionRules } from '../config/schema';
import { assembleVolume, type AssembleOptions } from './assemble-volume';
import { readPart10 } from './part10';
import { decodeFrame, DicomDecodeError, type FramePixels } from './decode';
import { headerFromDataset, DicomHeaderError, type InstanceHeader } from './instance-header';
import { frameBytes } from './pixel-data';
import { selectSeries, SelectionError, type SeriesSelection } from './select-series';
import { groupBySeries, type SeriesInfo } from './series';
import { isEncapsulated } from './transfer-syntax';
import type { Volume } from './volume';
import { LensError } from '../errors';

export interface UnreadableFile {
  file: string;
  reason: string;
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
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    return `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const r = readPart10(buf, { headerOnly: true });
  if (typeof r === 'string') return r;
  if (r.meta.MediaStorageSOPClassUID === DICOMDIR_SOP_CLASS) return 'DICOMDIR (media index, no image)';
  let h: InstanceHeader;
  try {
    h = headerFromDataset(r.dataset, r.transferSyntaxUID);
  } catch (e) {
    if (e instanceof DicomHeaderError) return `not an image instance: ${e.message}`;
    throw e;
  }
  h.source = file;
  // Native pixel data is a fixed size: a shorter file is cut short (reading up to PixelData does not notice).
  if (h.rows && h.columns && !isEncapsulated(h.transferSyntaxUID)) {
    const needed = (h.rows * h.columns * h.bitsAllocated * h.numberOfFrames * h.samplesPerPixel) / 8;
    if (buf.byteLength < needed) return `truncated: pixel data needs ${needed} bytes but the file has only ${buf.byteLength}`;
  }
  return h;
}

/** Every readable DICOM instance under dir, grouped into series; every other file with the reason. */
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
    const h = await readHeader(file);
    if (typeof h === 'string') unreadable.push({ file, reason: h });
    else headers.push(h);
  }
  return { series: groupBySeries(headers), unreadable };
}

/**
 * A frame reader over files: decodes frames of the instances of `series` from their files. The last file read is
 * kept, so the frames of one multi-frame file are not re-read for every frame.
 */
export function fileFrameReader(series: Pick<SeriesInfo, 'instances'>): (sopInstanceUID: string, frameNumber: number) => Promise<FramePixels> {
  const bySop = new Map(series.instances.map((i) => [i.sopInstanceUID, i]));
  let cached: { file: string; pixelData: unknown } | undefined;
  return async (sop, frameNumber) => {
    const h = bySop.get(sop);
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
