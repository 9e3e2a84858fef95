/**
 * A lesion's key slice as a PNG for the dashboard: the one instance's metadata and frame from the study source
 * (no series metadata: the job already chose the series), rendered in HU, cached on disk.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { headerFromDataset } from '../dicom/instance-header';
import type { Job, LesionSummary } from '../jobs/types';
import type { StudySource } from '../source/study-source';
import { renderKeySlicePng, windowForLesionType } from './key-slice-png';

export class KeySliceRenderer {
  constructor(private readonly source: Pick<StudySource, 'instanceMetadata' | 'frameReader'>, private readonly cacheDir: string) {
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
    const header = headerFromDataset(await this.source.instanceMetadata(study, series, ks.sopInstanceUID));
    if (header.seriesInstanceUID !== series) throw new Error(`key slice ${ks.sopInstanceUID} is not in series ${series}`);
    const frame = ks.frameNumber ?? 1;
    const stored = await this.source.frameReader(study, series, [header])(ks.sopInstanceUID, frame);
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
}
