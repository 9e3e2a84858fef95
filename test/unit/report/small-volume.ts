/** A tiny axial CT volume (no pixel data needed by the report builders) with a matching source dataset. */
import type { Volume } from '../../../src/dicom/volume';
import { deriveUid } from '../../../src/report/uid';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export function smallVolume(opts: { cols?: number; rows?: number; slices?: number; seed?: string } = {}): { volume: Volume; sourceDataset: Record<string, any> } {
  const cols = opts.cols ?? 40;
  const rows = opts.rows ?? 30;
  const n = opts.slices ?? 10;
  const seed = opts.seed ?? 'small';
  const study = deriveUid('study', seed);
  const spacing: [number, number, number] = [0.8, 0.8, 2.5];
  const origin: [number, number, number] = [-16, -12, -100];
  const volume: Volume = {
    data: new Int16Array(cols * rows * n),
    dims: [cols, rows, n],
    spacing,
    origin,
    direction: { row: [1, 0, 0], column: [0, 1, 0], normal: [0, 0, 1] },
    slices: Array.from({ length: n }, (_, k) => ({
      sopInstanceUID: deriveUid('sop', seed, String(k)),
      sopClassUID: CT_IMAGE_STORAGE,
      frameNumber: 1,
      position: [origin[0], origin[1], origin[2] + k * spacing[2]] as [number, number, number],
    })),
    studyInstanceUID: study,
    seriesInstanceUID: deriveUid('series', seed),
    frameOfReferenceUID: deriveUid('for', seed),
  };
  const sourceDataset = {
    PatientName: [{ Alphabetic: 'Phantom^Small' }],
    PatientID: 'PH-1',
    PatientBirthDate: '',
    PatientSex: 'O',
    StudyInstanceUID: study,
    StudyDate: '20240101',
    StudyTime: '120000',
    StudyID: '1',
    AccessionNumber: 'ACC1',
    ReferringPhysicianName: '',
    SliceThickness: 2.5,
  };
  return { volume, sourceDataset };
}
