/** Small constructed CT headers (no files) for the geometry and selection tests. */
import { headerFromDataset, type InstanceHeader } from '../../../src/dicom/instance-header';
import { groupBySeries, type SeriesInfo } from '../../../src/dicom/series';

export const R = 2;
export const C = 3;

/** Instance n of a series, at z along the head-foot axis; `extra` overrides any attribute (undefined removes it). */
export function slice(z: number, n: number, extra: Record<string, unknown> = {}): InstanceHeader {
  return headerFromDataset({
    StudyInstanceUID: '1.2.3',
    SeriesInstanceUID: (extra.SeriesInstanceUID as string) ?? '1.2.3.4',
    SOPInstanceUID: `1.2.3.4.${n}`,
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    Modality: 'CT',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    Rows: R,
    Columns: C,
    PixelSpacing: [0.7, 0.6],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    ImagePositionPatient: [-10, -20, z],
    RescaleSlope: 1,
    RescaleIntercept: -1024,
    BitsAllocated: 16,
    BitsStored: 16,
    PixelRepresentation: 0,
    FrameOfReferenceUID: '1.2.3.9',
    InstanceNumber: 100 - n, // deliberately opposite to position
    ...extra,
  });
}

export function series(zs: number[], extra: (k: number) => Record<string, unknown> = () => ({})): SeriesInfo {
  return groupBySeries(zs.map((z, k) => slice(z, k, extra(k))))[0];
}

/** Each frame filled with its stored value 1024 + 10 * position, so the HU equals 10 * z. */
export function reader(s: SeriesInfo) {
  return async (sop: string) => {
    const z = s.instances.find((i) => i.sopInstanceUID === sop)!.imagePositionPatient![2];
    return new Uint16Array(R * C).fill(1024 + 10 * z);
  };
}
