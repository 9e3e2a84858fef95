/**
 * Real-world series (issue 9): what is tolerated because the geometry is still one volume, and what is refused
 * because it is not. Small constructed headers; the real studies are in test/integration/dicom/real-world-series.
 */
import { selectionSchema } from '../../../src/config/schema';
import { assembleVolume } from '../../../src/dicom/assemble-volume';
import { planGeometry } from '../../../src/dicom/geometry';
import { selectSeries } from '../../../src/dicom/select-series';
import type { SeriesInfo } from '../../../src/dicom/series';
import { VolumeError } from '../../../src/dicom/volume-error';
import { reader, series } from './synthetic-headers';

const rules = selectionSchema.parse(undefined);
const zs = Array.from({ length: 30 }, (_, k) => k * 2);

/** The selection of a single series, asserting it was selected; its tolerated sentences. */
function toleratedOf(s: SeriesInfo, r = rules): string[] {
  const sel = selectSeries([s], r);
  expect(sel.rejected.map((x) => x.reasons)).toEqual([]);
  expect(sel.selected).toBe(s);
  return sel.tolerated ?? [];
}

/** The reasons a single series is refused, joined. */
function refusal(s: SeriesInfo, r = rules): string {
  const sel = selectSeries([s], r);
  expect(sel.selected).toBeUndefined();
  return sel.rejected[0].reasons.join('; ');
}

describe('tolerated', () => {
  test('a clean ORIGINAL\\PRIMARY\\AXIAL series tolerates nothing', () => {
    expect(toleratedOf(series(zs))).toEqual([]);
  });

  test('each instance with its own FrameOfReferenceUID: one volume, the first slice\'s UID, whatever the input order', async () => {
    const s = series(zs, (k) => ({ FrameOfReferenceUID: `1.2.3.9.${k}` }));
    expect(toleratedOf(s)).toEqual(['each of 30 instances has its own FrameOfReferenceUID; geometry is one volume (the first slice\'s UID is used)']);
    const v = await assembleVolume(s, reader(s));
    expect(v.frameOfReferenceUID).toBe('1.2.3.9.0'); // the slice at z = 0, the lowest along the normal
    const reversed = { ...s, instances: [...s.instances].reverse() };
    expect(planGeometry(reversed).frameOfReferenceUID).toBe('1.2.3.9.0');
    expect(v.tolerated).toEqual(toleratedOf(s));
  });

  test('two FrameOfReferenceUIDs in one series, and one missing on some instances', () => {
    expect(toleratedOf(series(zs, (k) => ({ FrameOfReferenceUID: k < 10 ? '1.2.3.9' : '1.2.3.8' })))).toEqual([
      '2 different FrameOfReferenceUIDs among 30 instances; geometry is one volume (the first slice\'s UID is used)',
    ]);
    expect(toleratedOf(series(zs, (k) => (k < 3 ? { FrameOfReferenceUID: undefined } : {})))).toEqual([
      'FrameOfReferenceUID missing on 3 of 30 instances; geometry is one volume',
    ]);
  });

  test('ImageType ORIGINAL\\PRIMARY with two values, also NUL-padded, is a plain original series', () => {
    expect(toleratedOf(series(zs, () => ({ ImageType: ['ORIGINAL', 'PRIMARY'] })))).toEqual([]);
    // A writer that pads with NUL (the refusal "ImageType ORIGINAL\PRIMARY<NUL> is not ORIGINAL\PRIMARY").
    const padded = series(zs, () => ({ ImageType: 'ORIGINAL\\PRIMARY\0\0' }));
    expect(padded.instances[0].imageType).toEqual(['ORIGINAL', 'PRIMARY']);
    expect(toleratedOf(padded)).toEqual([]);
  });

  test('an ImageType refusal never prints a control character', () => {
    const s = series(zs);
    for (const i of s.instances) i.imageType = ['ORIGINAL', 'SECONDARY\x01'];
    expect(refusal(s)).toContain('ImageType ORIGINAL\\SECONDARY\\x01 is not ORIGINAL\\PRIMARY or DERIVED\\PRIMARY');
  });

  test('no ImageType: accepted and said; refused when the rules say so', () => {
    const s = series(zs, () => ({ ImageType: undefined }));
    expect(toleratedOf(s)).toEqual(['no ImageType: accepted, ranked after series that declare ORIGINAL\\PRIMARY or DERIVED\\PRIMARY']);
    expect(refusal(s, { ...rules, acceptMissingImageType: false })).toMatch(/^no ImageType: whether the images are original axial slices cannot be told/);
    const some = series(zs, (k) => (k < 4 ? { ImageType: undefined } : {}));
    expect(toleratedOf(some)).toEqual(['no ImageType on 4 of 30 instances: accepted, ranked after series that declare ORIGINAL\\PRIMARY or DERIVED\\PRIMARY']);
  });

  test('thick slices (8 mm) are accepted with a note; the limit is 10 mm by default and configurable', () => {
    const eight = series(zs.map((z) => z * 4), () => ({ SliceThickness: 8 }));
    expect(toleratedOf(eight)).toEqual(['slice thickness 8 mm (thick slices: small lesions may be missed)']);
    // Thin slices far apart: the spacing is what is thick.
    expect(toleratedOf(series(zs.map((z) => z * 3), () => ({ SliceThickness: 1 })))).toEqual([
      'slice thickness 1 mm, 6 mm apart (thick slices: small lesions may be missed)',
    ]);
    expect(toleratedOf(series(zs.map((z) => z * 5), () => ({ SliceThickness: undefined })))).toEqual(['slices 10 mm apart (thick slices: small lesions may be missed)']);
    const twelve = series(zs.map((z) => z * 6), () => ({ SliceThickness: 12 }));
    expect(refusal(twelve)).toMatch(/slices are 12 mm apart \(at most 10 mm/);
    expect(toleratedOf(twelve, { ...rules, maxSliceSpacingMm: 12 })).toEqual(['slice thickness 12 mm (thick slices: small lesions may be missed)']);
    expect(toleratedOf(eight, { ...rules, thickSliceMm: 8 })).toEqual([]);
    // 5 mm, the common older protocol, is not called thick.
    expect(toleratedOf(series(zs.map((z) => z * 2.5), () => ({ SliceThickness: 5 })))).toEqual([]);
  });

  test('a DERIVED\\PRIMARY\\AXIAL CT (PET-CT attenuation CT) is accepted, below any ORIGINAL\\PRIMARY series', async () => {
    const ac = series(zs, () => ({ SeriesInstanceUID: '1.9.1', ImageType: ['DERIVED', 'PRIMARY', 'AXIAL', 'CT_SOM5 SPI'] }));
    expect(toleratedOf(ac)).toEqual([
      'ImageType DERIVED\\PRIMARY\\AXIAL\\CT_SOM5 SPI: derived images (such as the low-dose CT of a PET-CT), accepted, ranked below ORIGINAL\\PRIMARY series',
    ]);
    // Even with thicker slices the ORIGINAL series wins, and the runner-up is told why.
    const original = series(zs.map((z) => z * 2), () => ({ SeriesInstanceUID: '1.9.2' }));
    for (const order of [[ac, original], [original, ac]]) {
      const sel = selectSeries(order, rules);
      expect(sel.selected!.seriesInstanceUID).toBe('1.9.2');
      expect(sel.tolerated).toEqual([]);
      expect(sel.rejected[0].reasons[0]).toMatch(/has ImageType DERIVED\\PRIMARY; the selected series has ImageType ORIGINAL\\PRIMARY/);
    }
    // No ImageType ranks after DERIVED.
    const bare = series(zs.map((z) => z / 2), () => ({ SeriesInstanceUID: '1.9.3', ImageType: undefined }));
    expect(selectSeries([bare, ac], rules).selected!.seriesInstanceUID).toBe('1.9.1');
    // The rules are data: a site that reads only ORIGINAL images refuses it.
    expect(refusal(ac, { ...rules, imageTypes: ['ORIGINAL\\PRIMARY'] })).toMatch(/ImageType DERIVED\\PRIMARY\\AXIAL\\CT_SOM5 SPI is not ORIGINAL\\PRIMARY/);
    // The tolerated sentences reach the volume once each, from the selection and the geometry together.
    const both = series(zs, (k) => ({ ImageType: ['DERIVED', 'PRIMARY', 'AXIAL'], FrameOfReferenceUID: `1.2.3.9.${k}` }));
    const sel = selectSeries([both], rules);
    const v = await assembleVolume(both, reader(both), { tolerated: sel.tolerated });
    expect(v.tolerated).toHaveLength(2);
    expect(v.tolerated).toEqual(sel.tolerated);
  });

  test('derived reformats, projections and secondary captures stay refused', () => {
    for (const imageType of [['DERIVED', 'SECONDARY', 'AXIAL'], ['DERIVED', 'PRIMARY', 'AXIAL', 'MIP'], ['DERIVED', 'PRIMARY', 'REFORMATTED'], ['ORIGINAL', 'PRIMARY', 'LOCALIZER']]) {
      expect(refusal(series(zs, () => ({ ImageType: imageType })))).toMatch(/marks a localizer, projection or reformat/);
    }
    expect(refusal(series(zs, () => ({ ImageType: ['DERIVED', 'PRIMARY', 'CORONAL'] })))).toMatch(/ImageType value 3 is CORONAL/);
  });
});

describe('refused: geometry that really differs', () => {
  test('orientation differs between slices (even though the frames of reference are tolerated)', () => {
    const s = series(zs, (k) => ({ FrameOfReferenceUID: `1.2.3.9.${k}`, ...(k === 7 ? { ImageOrientationPatient: [1, 0, 0, 0, 0.9962, -0.0872] } : {}) }));
    expect(refusal(s)).toMatch(/^mixed orientations: \[1,0,0,0,1,0\] and \[1,0,0,0,0.996,-0.087\]/);
    expect(() => planGeometry(s)).toThrow(VolumeError);
  });

  test('pixel spacing differs between slices', () => {
    expect(refusal(series(zs, (k) => (k === 3 ? { PixelSpacing: [0.8, 0.8] } : {})))).toMatch(/^mixed pixel spacings: 0.7\/0.6 and 0.8\/0.8 mm/);
  });

  test('image size differs between slices', () => {
    expect(refusal(series(zs, (k) => (k === 3 ? { Rows: 4 } : {})))).toMatch(/^mixed image sizes: 3x2 and 3x4/);
  });

  test('one slice displaced in-plane: positions off one normal', () => {
    const s = series(zs, (k) => (k === 12 ? { ImagePositionPatient: [-5, -20, 24] } : {}));
    expect(refusal(s)).toMatch(/^slice positions are not on one line along the slice normal: 1 of 30 slices lie off it, the one at 24 mm by 5 mm in-plane/);
    // The first slice displaced is named as the odd one, not the 29 others.
    const first = series(zs, (k) => (k === 0 ? { ImagePositionPatient: [-10, -17, 0] } : {}));
    expect(refusal(first)).toMatch(/1 of 30 slices lie off it, the one at 0 mm by 3 mm/);
  });

  test('sub-pixel jitter of positions is not a displacement', () => {
    expect(toleratedOf(series(zs, (k) => ({ ImagePositionPatient: [-10 + (k % 2) * 0.1, -20, k * 2] })))).toEqual([]);
  });

  test('a uniformly sheared stack is gantry tilt', () => {
    const s = series(zs, (k) => ({ ImagePositionPatient: [-10, -20 + k * 2 * Math.tan((15 * Math.PI) / 180), k * 2] }));
    expect(refusal(s)).toMatch(/^gantry tilt: slice positions step 15° off the slice normal/);
  });

  test('a FrameOfReferenceUID tolerance needs a usable stack: duplicates are still refused', () => {
    const s = series([...zs, 10], (k) => ({ FrameOfReferenceUID: `1.2.3.9.${k}` }));
    expect(refusal(s)).toMatch(/duplicate slice position/);
  });
});
