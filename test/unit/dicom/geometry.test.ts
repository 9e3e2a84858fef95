/** Sorting, spacing, gaps, duplicates, tilt and rescale on constructed headers (no files). */
import { selectionSchema } from '../../../src/config/schema';
import { assembleVolume } from '../../../src/dicom/assemble-volume';
import { headerFromDataset } from '../../../src/dicom/instance-header';
import { selectSeries, kernelRank } from '../../../src/dicom/select-series';
import { groupBySeries } from '../../../src/dicom/series';
import { VolumeError } from '../../../src/dicom/volume-error';
import { C, R, reader, series, slice } from './synthetic-headers';

test('sorts by position along the normal, never by InstanceNumber or file order', async () => {
  const s = series([5, -5, 0, 10, -10].map((z) => z * 1.5));
  const v = await assembleVolume(s, reader(s));
  expect(v.slices.map((x) => x.position[2])).toEqual([-15, -7.5, 0, 7.5, 15]);
  expect(v.dims).toEqual([C, R, 5]);
  expect(v.spacing).toEqual([0.6, 0.7, 7.5]);
  expect(v.origin).toEqual([-10, -20, -15]);
  expect(Array.from(v.data.subarray(0, R * C))).toEqual(new Array(R * C).fill(-150));
});

test('a flipped orientation sorts along its own normal', async () => {
  // Row direction -x: the normal is -z, so ascending position along the normal is descending z.
  const s = series([0, 5, 10], () => ({ ImageOrientationPatient: [-1, 0, 0, 0, 1, 0] }));
  const v = await assembleVolume(s, reader(s));
  expect(v.direction.normal.map((x) => x + 0)).toEqual([0, 0, -1]);
  expect(v.slices.map((x) => x.position[2])).toEqual([10, 5, 0]);
});

test('duplicate positions are rejected with the position', async () => {
  const s = series([0, 5, 5, 10]);
  await expect(assembleVolume(s, reader(s))).rejects.toThrow(/duplicate slice position.*5/);
});

test('a gap (missing slices) is rejected with its size', async () => {
  const s = series([0, 5, 10, 25, 30, 35]);
  await expect(assembleVolume(s, reader(s))).rejects.toThrow(/gap of 15 mm .*about 2 missing slices/);
});

test('mildly uneven spacing is resampled to even spacing by linear interpolation', async () => {
  const s = series([0, 5, 9, 15, 20]);
  const notes: string[] = [];
  const v = await assembleVolume(s, reader(s), { onNote: (n) => notes.push(n) });
  expect(v.dims[2]).toBe(5);
  expect(v.spacing[2]).toBeCloseTo(5, 9);
  expect(notes.join()).toMatch(/resampled/);
  // HU = 10 z at every source slice, so the interpolated slice at z = 10 reads 100.
  expect(v.data[2 * R * C]).toBe(100);
  expect(v.slices[2].position[2]).toBeCloseTo(10, 9);
});

test('strongly uneven spacing is rejected', async () => {
  const s = series([0, 5, 7, 15, 20]);
  await expect(assembleVolume(s, reader(s))).rejects.toThrow(/uneven slice spacing/);
});

test('gantry tilt (positions sheared off the normal) is rejected', async () => {
  const s = series([0, 5, 10, 15], (k) => ({ ImagePositionPatient: [-10, -20 + k * 5 * Math.tan((20 * Math.PI) / 180), k * 5], GantryDetectorTilt: 20 }));
  await expect(assembleVolume(s, reader(s))).rejects.toThrow(/gantry tilt.*20(\.0)?°/);
});

test('missing geometry is a VolumeError naming the attribute', async () => {
  const s = series([0, 5, 10], (k) => (k === 1 ? { ImagePositionPatient: undefined } : {}));
  const p = assembleVolume(s, reader(s));
  await expect(p).rejects.toBeInstanceOf(VolumeError);
  await expect(p).rejects.toThrow(/ImagePositionPatient absent on 1 of 3 frames/);
});

test('rescale slope/intercept per slice, rounded and clamped to Int16', async () => {
  const s = series([0, 5], (k) => ({ RescaleSlope: k === 0 ? 0.5 : 100, RescaleIntercept: k === 0 ? -1000.25 : 0 }));
  const v = await assembleVolume(s, async () => new Uint16Array(R * C).fill(1001));
  expect(v.data[0]).toBe(Math.round(1001 * 0.5 - 1000.25));
  expect(v.data[R * C]).toBe(32767);
});

test('Enhanced CT: per-frame positions and shared functional groups', async () => {
  const h = headerFromDataset({
    StudyInstanceUID: '1.2',
    SeriesInstanceUID: '1.2.5',
    SOPInstanceUID: '1.2.5.1',
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1',
    Modality: 'CT',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    Rows: R,
    Columns: C,
    NumberOfFrames: 3,
    BitsAllocated: 16,
    PixelRepresentation: 1,
    FrameOfReferenceUID: '1.2.9',
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }],
        PixelMeasuresSequence: [{ PixelSpacing: [0.5, 0.5], SliceThickness: 2 }],
        PixelValueTransformationSequence: [{ RescaleSlope: 1, RescaleIntercept: -1024 }],
      },
    ],
    PerFrameFunctionalGroupsSequence: [4, 0, 2].map((z) => ({ PlanePositionSequence: [{ ImagePositionPatient: [0, 0, z] }] })),
  });
  expect(h.frames.map((f) => f.imagePositionPatient![2])).toEqual([4, 0, 2]);
  const v = await assembleVolume(groupBySeries([h])[0], async (_sop, frame) => new Int16Array(R * C).fill(1024 + frame));
  expect(v.slices.map((s) => s.frameNumber)).toEqual([2, 3, 1]);
  expect(v.spacing[2]).toBe(2);
  expect([v.data[0], v.data[R * C], v.data[2 * R * C]]).toEqual([2, 3, 1]);
});

test('DICOMweb JSON metadata gives the same header as a Part 10 dataset', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DicomMetaDictionary } = require('dcmjs').data;
  const json = {
    '0020000D': { vr: 'UI', Value: ['1.2.3'] },
    '0020000E': { vr: 'UI', Value: ['1.2.3.4'] },
    '00080018': { vr: 'UI', Value: ['1.2.3.4.0'] },
    '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    '00280010': { vr: 'US', Value: [R] },
    '00280011': { vr: 'US', Value: [C] },
    '00280030': { vr: 'DS', Value: [0.7, 0.6] },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00200032': { vr: 'DS', Value: [-10, -20, 0] },
    '00281053': { vr: 'DS', Value: [1] },
    '00281052': { vr: 'DS', Value: [-1024] },
    '00280100': { vr: 'US', Value: [16] },
    '00280101': { vr: 'US', Value: [16] },
    '00280103': { vr: 'US', Value: [0] },
    '00200052': { vr: 'UI', Value: ['1.2.3.9'] },
    '00200013': { vr: 'IS', Value: [100] },
  };
  const fromWeb = headerFromDataset(DicomMetaDictionary.naturalizeDataset(json), '1.2.840.10008.1.2.1');
  expect(fromWeb).toEqual({ ...slice(0, 0), transferSyntaxUID: '1.2.840.10008.1.2.1' });
});

describe('selection', () => {
  const rules = selectionSchema.parse(undefined);
  const zs = Array.from({ length: 30 }, (_, k) => k * 2);

  test('prefers thinner slices, then a soft-tissue kernel, then more slices; every other series has reasons', () => {
    const thin = series(zs.map((z) => z / 2), () => ({ SeriesInstanceUID: '1.9.1', ConvolutionKernel: 'L' }));
    const soft = series(zs, () => ({ SeriesInstanceUID: '1.9.2', ConvolutionKernel: 'B' }));
    const sharp = series(zs, () => ({ SeriesInstanceUID: '1.9.3', ConvolutionKernel: 'L' }));
    const scout = series([0], () => ({ SeriesInstanceUID: '1.9.4', ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }));
    const mr = series(zs, () => ({ SeriesInstanceUID: '1.9.5', Modality: 'MR' }));
    const sagittal = series(zs, () => ({ SeriesInstanceUID: '1.9.6', ImageOrientationPatient: [0, 1, 0, 0, 0, -1], ImagePositionPatient: [0, 0, 0] }));
    const sel = selectSeries([sharp, mr, soft, scout, thin, sagittal], rules);
    expect(sel.selected!.seriesInstanceUID).toBe('1.9.1');
    expect(sel.ranked.map((s) => s.seriesInstanceUID)).toEqual(['1.9.1', '1.9.2', '1.9.3']);
    const reasons = Object.fromEntries(sel.rejected.map((r) => [r.series.seriesInstanceUID, r.reasons.join('; ')]));
    expect(reasons['1.9.2']).toMatch(/thicker slice spacing/);
    expect(reasons['1.9.3']).toMatch(/thicker slice spacing/);
    expect(reasons['1.9.4']).toMatch(/LOCALIZER/);
    expect(reasons['1.9.5']).toMatch(/modality is MR/);
    expect(reasons['1.9.6']).toMatch(/not axial|duplicate/);
    expect(selectSeries([soft, sharp], rules).rejected[0].reasons[0]).toMatch(/kernel L/);
    expect(selectSeries([sharp, soft], rules).selected!.seriesInstanceUID).toBe('1.9.2');
  });

  test('too few slices and too widely spaced slices are reasons', () => {
    const few = series([0, 2, 4]);
    const sparse = series(zs.map((z) => z * 6));
    expect(selectSeries([few], rules).rejected[0].reasons.join()).toMatch(/3 slices \(at least 20/);
    expect(selectSeries([sparse], rules).rejected[0].reasons.join()).toMatch(/12 mm apart \(at most 10 mm/);
  });

  test('kernel preference: exact names and prefixes', () => {
    const pref = rules.preferredKernels;
    expect(kernelRank('B', pref)).toBeLessThan(kernelRank('L', pref));
    expect(kernelRank('B30f', pref)).toBeLessThan(pref.length);
    expect(kernelRank('B70f', pref)).toBe(pref.length);
    expect(kernelRank(undefined, pref)).toBe(pref.length);
  });
});
