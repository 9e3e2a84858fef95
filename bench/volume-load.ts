/**
 * Assembles a 1000-slice 512x512 series from in-memory frames and prints the time and peak RSS, to show that
 * memory stays at one volume (Int16, 500 MiB) plus the frames in flight. Figures only, no assertions.
 * Run: npx tsx bench/volume-load.ts [slices]
 */
import { assembleVolume } from '../src/dicom/assemble-volume';
import { headerFromDataset } from '../src/dicom/instance-header';
import { groupBySeries } from '../src/dicom/series';

const SLICES = Number(process.argv[2] ?? 1000);
const N = 512;
const MiB = 1 << 20;

async function main() {
  const headers = Array.from({ length: SLICES }, (_, k) =>
    headerFromDataset({
      StudyInstanceUID: '1.2.3',
      SeriesInstanceUID: '1.2.3.4',
      // Shuffled UIDs so that sorting by position matters.
      SOPInstanceUID: `1.2.3.4.${(k * 7919) % SLICES}`,
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      Modality: 'CT',
      ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      Rows: N,
      Columns: N,
      PixelSpacing: [0.7, 0.7],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      ImagePositionPatient: [0, 0, k * 0.625],
      RescaleSlope: 1,
      RescaleIntercept: -1024,
      BitsAllocated: 16,
      BitsStored: 12,
      PixelRepresentation: 0,
      FrameOfReferenceUID: '1.2.3.9',
    }),
  );
  const series = groupBySeries(headers)[0];
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = process.hrtime.bigint();
  // A fresh decoded frame per call, as a file or PACS reader would return it.
  const volume = await assembleVolume(series, async (_sop, _frame) => {
    const px = new Uint16Array(N * N);
    for (let i = 0; i < px.length; i++) px[i] = i & 4095;
    peak = Math.max(peak, process.memoryUsage().rss);
    return px;
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const volBytes = volume.data.byteLength;
  console.log(`volume-load: ${volume.dims.join('x')} voxels (${(volBytes / MiB).toFixed(0)} MiB Int16) assembled in ${ms.toFixed(0)} ms`);
  console.log(`  RSS before ${(base / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, growth ${((peak - base) / MiB).toFixed(0)} MiB = ${((peak - base) / volBytes).toFixed(2)} x the volume`);
  console.log(`  process maxRSS (resourceUsage) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
