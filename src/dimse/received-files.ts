/**
 * The folder of studies received by C-STORE, under the work dir, and its durable operations. An instance is
 * written to tmp/ and fsynced, then renamed into studies/<StudyInstanceUID>/ and the folder fsynced: only then
 * does the sender hear "success", so an acknowledged instance survives a crash. Beside each study folder,
 * studies/<uid>.json records the job that analyses it (written the same way), so that a restart finds every
 * study in the state it was left: still receiving, or waiting for its job.
 *
 *   <workDir>/dimse/tmp/<random>.part          an instance being received (deleted at start: never acknowledged)
 *   <workDir>/dimse/studies/<uid>/<sop>.dcm    acknowledged instances
 *   <workDir>/dimse/studies/<uid>.json         { jobId, enqueuedAt } once its job is enqueued
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LensError } from '../errors';

/** The folder a job of source 'dimse' carries in its payload, relative to the work dir (no patient data). */
export const DIMSE_DIR = 'dimse';

export interface StudyMarker {
  jobId: number;
  /** Epoch ms when the job was enqueued: instances received later were not in its folder scan. */
  enqueuedAt: number;
}

export interface ReceivedStudyOnDisk {
  studyInstanceUID: string;
  files: number;
  bytes: number;
  /** Epoch ms of the newest instance (mtime). */
  newestAt: number;
  marker?: StudyMarker;
}

export class ReceivedFolderError extends LensError {
  constructor(message: string) {
    super(message, 'dimse-folder');
  }
}

/** fsync of a folder: makes a rename or a new entry in it durable. */
async function syncDir(dir: string): Promise<void> {
  const h = await fs.promises.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export class ReceivedFiles {
  readonly root: string;
  readonly studiesDir: string;
  readonly tmpDir: string;

  constructor(readonly workDir: string) {
    this.root = path.join(workDir, DIMSE_DIR);
    this.studiesDir = path.join(this.root, 'studies');
    this.tmpDir = path.join(this.root, 'tmp');
  }

  /** Creates the folders; removes partial instances a crash left in tmp/ (their senders never heard success). */
  async prepare(): Promise<void> {
    await fs.promises.mkdir(this.studiesDir, { recursive: true });
    await fs.promises.rm(this.tmpDir, { recursive: true, force: true });
    await fs.promises.mkdir(this.tmpDir, { recursive: true });
    await syncDir(this.root);
  }

  newTempFile(): string {
    return path.join(this.tmpDir, `${randomUUID()}.part`);
  }

  /** The study's folder relative to the work dir: what a job's payload carries. */
  relativeStudyDir(studyInstanceUID: string): string {
    return path.posix.join(DIMSE_DIR, 'studies', checkedUid(studyInstanceUID));
  }

  studyDir(studyInstanceUID: string): string {
    return path.join(this.studiesDir, checkedUid(studyInstanceUID));
  }

  /**
   * A job payload's folder as an absolute path, refused unless it is a study folder of this work dir (a payload
   * is data: it never names a folder elsewhere).
   */
  resolvePayloadDir(relative: unknown): string {
    if (typeof relative !== 'string') throw new ReceivedFolderError('job payload has no dimseFolder');
    const [top, studies, uid, ...rest] = relative.split('/');
    if (top !== DIMSE_DIR || studies !== 'studies' || !isUidLike(uid) || rest.length) {
      throw new ReceivedFolderError(`job payload dimseFolder ${JSON.stringify(relative)} is not a received study folder`);
    }
    return this.studyDir(uid);
  }

  /** Moves a complete, fsynced temp file into its study folder under the SOP Instance UID, durably. */
  async commit(tmpFile: string, studyInstanceUID: string, sopInstanceUID: string): Promise<void> {
    const dir = this.studyDir(studyInstanceUID);
    let created = false;
    try {
      await fs.promises.mkdir(dir);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (created) await syncDir(this.studiesDir);
    await fs.promises.rename(tmpFile, path.join(dir, `${checkedUid(sopInstanceUID)}.dcm`));
    await syncDir(dir);
  }

  async writeMarker(studyInstanceUID: string, marker: StudyMarker): Promise<void> {
    const file = `${this.studyDir(studyInstanceUID)}.json`;
    const tmp = this.newTempFile();
    const h = await fs.promises.open(tmp, 'wx');
    try {
      await h.writeFile(JSON.stringify(marker));
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.promises.rename(tmp, file);
    await syncDir(this.studiesDir);
  }

  /** Removes a study's instances and marker (after its job ended). */
  async remove(studyInstanceUID: string): Promise<void> {
    await fs.promises.rm(`${this.studyDir(studyInstanceUID)}.json`, { force: true });
    await fs.promises.rm(this.studyDir(studyInstanceUID), { recursive: true, force: true });
    await syncDir(this.studiesDir);
  }

  /** Every study folder with its size, newest instance and marker: the state a restart resumes from. */
  async list(): Promise<ReceivedStudyOnDisk[]> {
    const out: ReceivedStudyOnDisk[] = [];
    for (const e of await fs.promises.readdir(this.studiesDir, { withFileTypes: true })) {
      if (!e.isDirectory() || !isUidLike(e.name)) continue;
      const dir = path.join(this.studiesDir, e.name);
      let files = 0;
      let bytes = 0;
      let newestAt = 0;
      for (const f of await fs.promises.readdir(dir)) {
        const st = await fs.promises.stat(path.join(dir, f));
        files++;
        bytes += st.size;
        newestAt = Math.max(newestAt, st.mtimeMs);
      }
      out.push({ studyInstanceUID: e.name, files, bytes, newestAt, marker: await this.readMarker(e.name) });
    }
    return out;
  }

  private async readMarker(studyInstanceUID: string): Promise<StudyMarker | undefined> {
    try {
      const m = JSON.parse(await fs.promises.readFile(`${this.studyDir(studyInstanceUID)}.json`, 'utf8')) as Partial<StudyMarker>;
      return Number.isInteger(m.jobId) && typeof m.enqueuedAt === 'number' ? { jobId: m.jobId!, enqueuedAt: m.enqueuedAt } : undefined;
    } catch {
      // No marker (or one a crash cut short: it is written by rename, so only a foreign file): not yet enqueued.
      return undefined;
    }
  }
}

/**
 * Digits and dots, at most 64 characters: safe as a file name. Looser than dicom/uid.ts isValidUid on purpose:
 * real senders use components with leading zeros, and such an instance is still stored and analysed.
 */
export function isUidLike(uid: unknown): uid is string {
  return typeof uid === 'string' && uid.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(uid);
}

function checkedUid(uid: string): string {
  if (!isUidLike(uid)) throw new ReceivedFolderError(`not a valid UID: ${JSON.stringify(uid)}`);
  return uid;
}
