/**
 * The harvest dataset on disk (docs/harvest.md#dataset-format):
 *
 *   <out>/studies/<StudyInstanceUID>.json   one record per study (HarvestRecord), the last file written for it
 *   <out>/pictures/<StudyInstanceUID>/<candidate id>.png   key slice with the box of each harvested lesion
 *   <out>/runs/<run id>.json                 one record per run (RunRecord): options, model versions, thresholds, counts
 *
 * Every file is written to a temporary name, flushed and renamed, so a reader (or a run killed at any point) sees
 * either the whole file or none. A study's pictures are written before its record: a record on disk means the study
 * is complete, and a study without one is analysed again (its pictures are simply rewritten under the same names).
 * A record of the same model versions means "already harvested": the study is skipped.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BoxLPS } from '../detect/findings';
import { LensError } from '../errors';
import type { ClassifiedCandidate, Thresholds } from './proposals';
import type { AnnotationShape } from './sr-labels';

export const DATASET_FORMAT = 'lens-harvest/1';

export interface ModelVersions {
  /** name-version of the detector that proposed the candidates. */
  detector: string;
  /** name-version of the proposal classifier that scored them. */
  classifier: string;
}

/** A label already in the archive, or a finding a reader rejected. */
export interface RecordedAnnotation {
  srSopInstanceUID: string;
  trackingUid?: string;
  trackingId?: string;
  findingSite?: string;
  shape: AnnotationShape;
  keySlice: { sopInstanceUID: string; frameNumber?: number; sliceIndex?: number; box: [number, number, number, number] };
  /** Undefined when the annotated image is not a slice of the analysed series. */
  bboxLPS?: BoxLPS;
}

export interface RecordedCandidate extends ClassifiedCandidate {
  /** Harvested lesions: the key-slice picture, relative to the dataset folder. */
  picture?: string;
}

export interface HarvestRecord {
  format: typeof DATASET_FORMAT;
  studyInstanceUID: string;
  /** Where the study was read: "DICOMweb <url>", "folder <dir>". */
  source: string;
  harvestedAt: string;
  modelVersions: ModelVersions;
  runId: string;
  /** A study that was not analysed (no CT, no suitable series), with the reason; no candidates then. */
  skipped?: { reason: string; message: string };
  sourceSeries?: { seriesInstanceUID: string; why: string; slices: number };
  srs: { own: string[]; readers: string[] };
  completelyAnnotated: { value: boolean; by: string[] };
  thresholds?: Thresholds;
  existingLabels: RecordedAnnotation[];
  /** Our findings a reader's edit of our SR removed (hard negatives whether or not a candidate matches them). */
  rejectedFindings: RecordedAnnotation[];
  /** Reader groups that give no box (no 2D SCOORD on an image). */
  annotationsWithoutGeometry: number;
  /** Candidates that matched an existing label. */
  matched: RecordedCandidate[];
  harvested: RecordedCandidate[];
  hardNegatives: RecordedCandidate[];
  /** Between the thresholds: neither, kept so that other thresholds can be applied later. */
  uncertain: RecordedCandidate[];
}

export interface RunRecord {
  format: typeof DATASET_FORMAT;
  runId: string;
  startedAt: string;
  finishedAt?: string;
  status: 'running' | 'complete' | 'failed';
  source: string;
  window: { since?: string; until?: string };
  modelVersions: ModelVersions;
  thresholds?: Thresholds;
  counts: { studies: number; skippedAlreadyHarvested: number; harvestedStudies: number; notAnalysed: number; failed: number; labels: number; harvested: number; hardNegatives: number; uncertain: number;
    /** Pixel data read from the PACS by the run (0 for a folder). */
    pacsBytesRead: number };
  failures: { studyInstanceUID: string; message: string }[];
}

export class HarvestDataset {
  /** One harvest writes a dataset at a time (the CLI, or the service's leader): leftovers of a killed one are removed. */
  constructor(readonly dir: string) {
    for (const d of ['studies', 'pictures', 'runs']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    for (const d of ['studies', 'runs']) removeTemporaries(path.join(dir, d));
    for (const d of fs.readdirSync(path.join(dir, 'pictures'))) removeTemporaries(path.join(dir, 'pictures', d));
  }

  recordPath(studyInstanceUID: string): string {
    return path.join(this.dir, 'studies', `${safeName(studyInstanceUID)}.json`);
  }

  /** The study's record, or undefined when it has none (never harvested, or interrupted before its record). */
  read(studyInstanceUID: string): HarvestRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.recordPath(studyInstanceUID), 'utf8')) as HarvestRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new LensError(`harvest record ${this.recordPath(studyInstanceUID)} is unreadable (remove it to harvest the study again): ${(e as Error).message}`, 'harvest-record-unreadable');
    }
  }

  /** Whether the study was harvested by exactly these model versions (then it is skipped). */
  isHarvested(studyInstanceUID: string, models: ModelVersions): boolean {
    const r = this.read(studyInstanceUID);
    return !!r && r.modelVersions.detector === models.detector && r.modelVersions.classifier === models.classifier;
  }

  /** Every record in the dataset. */
  records(): HarvestRecord[] {
    const dir = path.join(this.dir, 'studies');
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as HarvestRecord);
  }

  /** Writes a picture under pictures/<study>/ and returns its path relative to the dataset. */
  writePicture(studyInstanceUID: string, name: string, png: Buffer): string {
    const rel = path.join('pictures', safeName(studyInstanceUID), `${name}.png`);
    const file = path.join(this.dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeAtomically(file, png);
    return rel;
  }

  /** The study's record: the last write for a study, after its pictures. */
  writeRecord(record: HarvestRecord): void {
    writeAtomically(this.recordPath(record.studyInstanceUID), Buffer.from(JSON.stringify(record, null, 1)));
  }

  writeRun(run: RunRecord): void {
    writeAtomically(path.join(this.dir, 'runs', `${safeName(run.runId)}.json`), Buffer.from(JSON.stringify(run, null, 1)));
  }
}

function removeTemporaries(dir: string): void {
  if (!fs.statSync(dir).isDirectory()) return;
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
}

/** UIDs are digits and dots; anything else (a folder source may hold odd values) is replaced. */
function safeName(uid: string): string {
  return uid.replace(/[^0-9A-Za-z.\-]/g, '_');
}

/** Temporary file in the same folder, flushed, renamed over the target: the target is whole or absent. */
export function writeAtomically(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
