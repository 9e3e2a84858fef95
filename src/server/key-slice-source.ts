/** Fetches a lesion's key slice from the PACS (WADO-RS frame) as HU and renders it, cached on disk. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { headerFromDataset, type InstanceHeader } from '../dicom/instance-header';
import type { Job, LesionSummary } from '../jobs/types';
import type { DicomWebClient } from '../pacs/dicomweb';
import { renderKeySlicePng, windowForLesionType } from './key-slice-png';

export class KeySliceRenderer {
  /** Series UID -> headers by SOP Instance UID (the last few series; metadata of a series is fetched once). */
  private headers = new Map<string, Promise<Map<string, InstanceHeader>>>();

  constructor(private readonly client: DicomWebClient, private readonly cacheDir: string) {
    fs.mkdirSync(cacheDir, { recursive: true });
  }

  async png(job: Job, lesion: LesionSummary): Promise<Buffer> {
    const series = job.outputs?.seriesInstanceUID ?? job.seriesInstanceUID;
    if (!series) throw new Error(`job ${job.id} has no source series`);
    const ks = lesion.keySlice;
    const key = createHash('sha1').update(JSON.stringify([job.studyInstanceUID, series, ks, lesion.type])).digest('hex');
    const file = path.join(this.cacheDir, `${key}.png`);
    try {
      return await fs.promises.readFile(file);
    } catch {
      /* not cached yet */
    }
    const header = (await this.seriesHeaders(job.studyInstanceUID, series)).get(ks.sopInstanceUID);
    if (!header) throw new Error(`key slice ${ks.sopInstanceUID} is not in series ${series}`);
    const frame = ks.frameNumber ?? 1;
    const stored = await this.client.retrieveFrame(job.studyInstanceUID, series, ks.sopInstanceUID, frame, header);
    const fh = header.frames[frame - 1] ?? header.frames[0];
    const slope = fh?.rescaleSlope ?? header.rescaleSlope;
    const intercept = fh?.rescaleIntercept ?? header.rescaleIntercept;
    const hu = new Float32Array(stored.length);
    for (let i = 0; i < stored.length; i++) hu[i] = stored[i] * slope + intercept;
    const png = renderKeySlicePng({ hu, rows: header.rows, columns: header.columns }, windowForLesionType(lesion.type), ks.box);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, png);
    await fs.promises.rename(tmp, file);
    return png;
  }

  private seriesHeaders(study: string, series: string): Promise<Map<string, InstanceHeader>> {
    let p = this.headers.get(series);
    if (!p) {
      p = this.client.retrieveSeriesMetadata(study, series).then((list) => {
        const m = new Map<string, InstanceHeader>();
        for (const ds of list) {
          try {
            const h = headerFromDataset(ds);
            m.set(h.sopInstanceUID, h);
          } catch {
            /* not an image */
          }
        }
        return m;
      });
      p.catch(() => this.headers.delete(series));
      this.headers.set(series, p);
      if (this.headers.size > 8) this.headers.delete(this.headers.keys().next().value!);
    }
    return p;
  }
}
