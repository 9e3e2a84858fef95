/**
 * A lesion's key slice as a PNG for the dashboard: the one instance's metadata and frame from the PACS (no series
 * metadata: the job already chose the series), rendered in HU, cached on disk. Fetching, decoding and rendering run
 * in a worker thread (key-slice-thread.ts), so that a page of pictures never holds up the service's event loop
 * (/healthz, the webhook, the API); a picture that breaks the thread (e.g. exhausts its heap) costs that picture.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PacsConfig } from '../pacs/dicomweb';
import { headerFromDataset } from '../dicom/instance-header';
import type { Job, LesionSummary } from '../jobs/types';
import type { StudySource } from '../source/study-source';
import { siblingModule, threadBootstrap } from '../worker/module-entry';
import { renderKeySlicePng, windowForLesionType } from './key-slice-png';

/** What the thread needs to render one picture. */
export interface KeySliceRequest {
  study: string;
  series: string;
  lesion: Pick<LesionSummary, 'keySlice' | 'type'>;
}

/** Fetches the key slice's instance and frame from `source` and renders it (the thread's work). */
export async function renderKeySlice(source: Pick<StudySource, 'instanceMetadata' | 'frameReader'>, r: KeySliceRequest): Promise<Buffer> {
  const ks = r.lesion.keySlice;
  const header = headerFromDataset(await source.instanceMetadata(r.study, r.series, ks.sopInstanceUID));
  if (header.seriesInstanceUID !== r.series) throw new Error(`key slice ${ks.sopInstanceUID} is not in series ${r.series}`);
  const frame = ks.frameNumber ?? 1;
  const stored = await source.frameReader(r.study, r.series, [header])(ks.sopInstanceUID, frame);
  const fh = header.frames[frame - 1] ?? header.frames[0];
  const slope = fh?.rescaleSlope ?? header.rescaleSlope;
  const intercept = fh?.rescaleIntercept ?? header.rescaleIntercept;
  const hu = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) hu[i] = stored[i] * slope + intercept;
  return renderKeySlicePng({ hu, rows: header.rows, columns: header.columns }, windowForLesionType(r.lesion.type), ks.box);
}

/** The worker thread's heap ceiling, MB: far above one slice's picture, far below what would hurt the service. */
const THREAD_HEAP_MB = 512;

export class KeySliceRenderer {
  private thread?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void }>();

  constructor(private readonly pacs: PacsConfig, private readonly cacheDir: string) {
    fs.mkdirSync(cacheDir, { recursive: true });
  }

  async png(job: Job, lesion: LesionSummary): Promise<Buffer> {
    const series = job.outputs?.seriesInstanceUID ?? job.seriesInstanceUID;
    const study = job.studyInstanceUID;
    if (!series || !study) throw new Error(`job ${job.id} has no source series`);
    const ks = lesion.keySlice;
    const key = createHash('sha1').update(JSON.stringify([study, series, ks, lesion.type])).digest('hex');
    const file = path.join(this.cacheDir, `${key}.png`);
    try {
      return await fs.promises.readFile(file);
    } catch {
      /* not cached yet */
    }
    const png = await this.inThread({ study, series, lesion: { keySlice: ks, type: lesion.type } });
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, png);
    await fs.promises.rename(tmp, file);
    return png;
  }

  async stop(): Promise<void> {
    const t = this.thread;
    this.thread = undefined;
    await t?.terminate();
  }

  private inThread(request: KeySliceRequest): Promise<Buffer> {
    const thread = this.thread ?? this.startThread();
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      thread.postMessage({ id, request });
    });
  }

  private startThread(): Worker {
    const entry = siblingModule(__dirname, __filename, 'key-slice-thread');
    const thread = new Worker(threadBootstrap(entry), { eval: true, workerData: { pacs: this.pacs }, resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } });
    // Pictures are asked for by pages being served: an idle thread must not keep the service alive.
    thread.unref();
    thread.on('message', (m: { id: number; png?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.png) p?.resolve(Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength));
      else p?.reject(new Error(m.error ?? 'key slice not rendered'));
    });
    const fail = (e: Error) => {
      if (this.thread === thread) this.thread = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    thread.on('error', (e) => fail(new Error(`key-slice renderer failed: ${e.message}`)));
    thread.on('exit', (code) => fail(new Error(`key-slice renderer ended (exit code ${code})`)));
    this.thread = thread;
    return thread;
  }
}
