/**
 * A study source that reads pixel data no faster than a number of bytes per second, so that a night's harvest does
 * not load the PACS during its own night jobs (config harvest.maxBytesPerSecond). Frames are counted by their
 * decoded size, which is what the harvest asks the PACS to send (Explicit VR Little Endian); metadata is not.
 */
import type { ReadFrame } from '../dicom/assemble-volume';
import type { InstanceHeader } from '../dicom/instance-header';
import type { StudySource } from '../source/study-source';

/** Token bucket: `rate` bytes per second, at most one second's worth saved up. */
export interface Bucket {
  available: number;
  at: number;
}

/** Takes `bytes` from the bucket at `now` (ms); returns the new bucket and how long to wait before using them. */
export function takeBytes(b: Bucket, bytes: number, rate: number, now: number): { bucket: Bucket; waitMs: number } {
  const available = Math.min(rate, b.available + ((now - b.at) * rate) / 1000) - bytes;
  return { bucket: { available, at: now }, waitMs: available < 0 ? (-available / rate) * 1000 : 0 };
}

export class ByteRateLimit {
  private bucket: Bucket;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(bytesPerSecond > 0)) throw new Error(`bytes per second must be positive, got ${bytesPerSecond}`);
    this.bucket = { available: bytesPerSecond, at: now() };
  }

  /** Resolves when `bytes` may be used (the wait is taken after the read: the next read starts later). */
  async take(bytes: number): Promise<void> {
    const { bucket, waitMs } = takeBytes(this.bucket, bytes, this.bytesPerSecond, this.now());
    this.bucket = bucket;
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
  }
}

/** Pixel data bytes read through a source (the harvest's PACS bytes, metric lens_harvest_pacs_bytes_total). */
export class ByteMeter {
  total = 0;
}

/** The source with every frame read counted against the limit (none: not limited) and on the meter. */
export function throttledSource<S extends StudySource>(source: S, limit?: ByteRateLimit, meter?: ByteMeter): StudySource {
  return {
    get description() {
      return source.description;
    },
    get frameConcurrency() {
      return source.frameConcurrency;
    },
    listSeries: (study) => source.listSeries(study),
    seriesMetadata: (study, series) => source.seriesMetadata(study, series),
    instanceMetadata: (study, series, sop) => source.instanceMetadata(study, series, sop),
    frameReader(study: string, series: string, instances: InstanceHeader[]): ReadFrame {
      const read = source.frameReader(study, series, instances);
      return async (sop, frame, instance) => {
        const pixels = await read(sop, frame, instance);
        if (meter) meter.total += pixels.byteLength;
        await limit?.take(pixels.byteLength);
        return pixels;
      };
    },
  };
}
