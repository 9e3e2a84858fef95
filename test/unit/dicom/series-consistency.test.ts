/**
 * Consistency inside a series (issue 11): a damaged slice (nonsense rescale, another modality or study, a second
 * file of one instance with other pixels) is excluded with its reason at an end of the stack, or the series is
 * refused; never analysed silently. Small constructed headers; the damaged files on disk are in
 * test/integration/dicom/damaged-series.test.ts.
 */
import { selectionSchema } from '../../../src/config/schema';
import { assembleVolume } from '../../../src/dicom/assemble-volume';
import { headerFromDataset, type InstanceHeader } from '../../../src/dicom/instance-header';
import { selectSeries } from '../../../src/dicom/select-series';
import { groupBySeries, type SeriesInfo } from '../../../src/dicom/series';
import { C, R, reader, series, slice } from './synthetic-headers';

const rules = selectionSchema.parse(undefined);
const N = 30;
const zs = Array.from({ length: N }, (_, k) => k * 2);
/** Index of the slice at the top (last along the normal) and one in the middle. */
const TOP = N - 1;
const MIDDLE = 12;

/** A series whose slice k gets `damage` (attribute overrides) when k is in `at`. */
function damaged(at: number[], damage: Record<string, unknown>): SeriesInfo {
  return series(zs, (k) => (at.includes(k) ? damage : {}));
}

function selected(s: SeriesInfo, r = rules): SeriesInfo {
  const sel = selectSeries([s], r);
  expect(sel.rejected.map((x) => x.reasons)).toEqual([]);
  return sel.selected!;
}

function refusal(s: SeriesInfo, r = rules): string {
  const sel = selectSeries([s], r);
  expect(sel.selected).toBeUndefined();
  return sel.rejected[0].reasons.join('; ');
}

describe.each([
  ['RescaleSlope 0', { RescaleSlope: 0 }, /RescaleSlope 0 is outside 0\.01\.\.100/],
  // dcmjs reads DS "NaN" (and an empty value) as null: present, yet no number.
  ['RescaleSlope NaN', { RescaleSlope: null }, /RescaleSlope is empty or not a number/],
  ['RescaleSlope 1e308', { RescaleSlope: 1e308 }, /RescaleSlope 1e\+308 is outside/],
  ['RescaleIntercept NaN', { RescaleIntercept: null }, /RescaleIntercept is empty or not a number/],
  ['Modality MR', { Modality: 'MR' }, /Modality MR in a CT series/],
  ['no Modality', { Modality: undefined }, /no Modality in a CT series/],
  ['another study', { StudyInstanceUID: '9.9.9' }, /StudyInstanceUID 9\.9\.9 is not the series' study 1\.2\.3/],
])('a slice with %s', (_name, damage, reason) => {
  it('at an end of the stack is excluded, named in the selection, the volume and its tolerated sentences', async () => {
    const s = damaged([TOP], damage);
    const chosen = selected(s);
    expect(chosen.instances).toHaveLength(N - 1);
    expect(chosen.excluded).toEqual([{ sopInstanceUID: `1.2.3.4.${TOP}`, reason: expect.stringMatching(reason) }]);
    const sel = selectSeries([s], rules);
    expect(sel.tolerated!.join('\n')).toMatch(new RegExp(`excluded instance 1\\.2\\.3\\.4\\.${TOP}: .*${reason.source}`));

    const v = await assembleVolume(chosen, reader(chosen), { tolerated: sel.tolerated });
    expect(v.dims[2]).toBe(N - 1);
    expect(v.slices.map((x) => x.sopInstanceUID)).not.toContain(`1.2.3.4.${TOP}`);
    expect(v.excluded).toEqual(chosen.excluded);
    expect(v.tolerated!.filter((t) => t.startsWith('excluded'))).toHaveLength(1);
    // The series keeps the study and modality of the slices that are analysed.
    expect(v.studyInstanceUID).toBe('1.2.3');
  });

  it('between other slices refuses the series: leaving it out would open a gap', () => {
    expect(refusal(damaged([MIDDLE], damage))).toMatch(new RegExp(`damaged instance 1\\.2\\.3\\.4\\.${MIDDLE}: ${reason.source}.*gap`));
  });
});

test('more damaged slices at one end than maxExcludedSlicesPerEnd refuses the series; a site may allow more', () => {
  const s = damaged([0, 1, 2], { RescaleSlope: 0 });
  expect(refusal(s)).toMatch(/3 damaged instances at one end of the stack \(at most 2 may be left out at each end\)/);
  const chosen = selected(s, { ...rules, maxExcludedSlicesPerEnd: 3 });
  expect(chosen.excluded!.map((e) => e.sopInstanceUID)).toEqual(['1.2.3.4.0', '1.2.3.4.1', '1.2.3.4.2']);
  expect(refusal(damaged([TOP], { RescaleSlope: 0 }), { ...rules, maxExcludedSlicesPerEnd: 0 })).toMatch(/1 damaged instances at one end/);
});

test('one damaged slice at each end: both excluded', () => {
  const chosen = selected(damaged([0, TOP], { Modality: 'MR' }));
  expect(chosen.instances).toHaveLength(N - 2);
  expect(chosen.excluded).toHaveLength(2);
});

test('every slice damaged: refused as such', () => {
  expect(refusal(damaged(zs.map((_, k) => k), { RescaleSlope: 0 }))).toMatch(/every instance is damaged: instance 1\.2\.3\.4\.0: RescaleSlope 0 .*and 29 more/);
});

test('the rescale range is configurable', () => {
  expect(selected(damaged([TOP], { RescaleSlope: 0.005 }), { ...rules, minRescaleSlope: 0.001 }).excluded).toBeUndefined();
  expect(selected(damaged([TOP], { RescaleIntercept: -40000 })).excluded![0].reason).toMatch(/RescaleIntercept -40000 is beyond ±32768/);
});

test('absent rescale attributes are the identity, not damage', () => {
  const h = slice(0, 0, { RescaleSlope: undefined, RescaleIntercept: undefined });
  expect([h.rescaleSlope, h.rescaleIntercept]).toEqual([1, 0]);
});

test("the series' modality and study are those of most instances, whatever the SOP order", () => {
  // Slice 0 sorts first by SOPInstanceUID: it must not decide the series' modality or study.
  const s = damaged([0], { Modality: 'MR', StudyInstanceUID: '0.1' });
  expect([s.modality, s.studyInstanceUID]).toEqual(['CT', '1.2.3']);
  expect(selected(s).excluded![0].reason).toMatch(/Modality MR in a CT series/);
});

describe('two files of one SOP instance', () => {
  /** The series with a second file of instance `k`, whose pixels differ from the first by `delta`. */
  function withCopy(k: number, delta: number, extra: Record<string, unknown> = {}) {
    const first = zs.map((z, i) => ({ ...slice(z, i), source: `/data/CT${i}.dcm` }));
    const copy: InstanceHeader = { ...slice(zs[k], k, extra), source: '/data/copy.dcm' };
    const s = groupBySeries([...first, copy])[0];
    const read = async (sop: string, _frame: number, instance?: InstanceHeader) => {
      const h = instance ?? s.instances.find((i) => i.sopInstanceUID === sop)!;
      return new Uint16Array(R * C).fill(1024 + 10 * h.imagePositionPatient![2] + (h.source === '/data/copy.dcm' ? delta : 0));
    };
    return { s, read };
  }

  it('with the same pixels: one is used, the other dropped with a note', async () => {
    const { s, read } = withCopy(5, 0);
    expect(s.instances).toHaveLength(N);
    expect(s.duplicates!.map((d) => d.source)).toEqual(['/data/copy.dcm']);
    const v = await assembleVolume(selected(s), read);
    expect(v.dims[2]).toBe(N);
    expect(v.tolerated).toContain('1 duplicate file of instances already read (identical pixels) dropped: copy.dcm');
  });

  it('with other pixels: the series is refused, naming both files', async () => {
    const { s, read } = withCopy(5, 7);
    await expect(assembleVolume(selected(s), read)).rejects.toThrow(
      /two files hold instance 1\.2\.3\.4\.5 \(CT5\.dcm\) with different pixels \(the other is copy\.dcm\).*refused/,
    );
  });

  it('with another rescale: refused before a pixel is compared', async () => {
    const { s, read } = withCopy(5, 0, { RescaleIntercept: -1000 });
    await expect(assembleVolume(selected(s), read)).rejects.toThrow(/different positions or rescale/);
  });

  it('whose instance is excluded: the copy goes with it', () => {
    const first = zs.map((z, i) => slice(z, i, i === TOP ? { RescaleSlope: 0 } : {}));
    const s = groupBySeries([...first, slice(zs[TOP], TOP, { RescaleSlope: 0 })])[0];
    expect(selected(s).duplicates).toBeUndefined();
  });
});

test('voxels outside the Int16 HU range are clipped and counted, never silently', async () => {
  const s = series(zs, () => ({ RescaleSlope: 2 }));
  const chosen = selected(s);
  const v = await assembleVolume(chosen, async () => new Uint16Array(R * C).fill(30000));
  // 30000 * 2 - 1024 = 58976 HU > 32767 on every voxel of every slice.
  expect(v.data.every((x) => x === 32767)).toBe(true);
  expect(v.tolerated).toContain(`${R * C * N} voxels on ${N} slices fell outside -32768..32767 HU and were clipped to it`);
});

test('a clean series has no exclusions and no clipping note', async () => {
  const s = series(zs);
  const v = await assembleVolume(selected(s), reader(s));
  expect(v.excluded).toBeUndefined();
  expect(v.tolerated).toEqual([]);
});

test('a PACS-style multi-frame instance with a damaged frame rescale is refused (nothing else to keep)', () => {
  const h = headerFromDataset({
    StudyInstanceUID: '1.2.3', SeriesInstanceUID: '1.2.3.4', SOPInstanceUID: '1.2.3.4.1', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1',
    Modality: 'CT', ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'], Rows: R, Columns: C, NumberOfFrames: 2,
    SharedFunctionalGroupsSequence: [{ PlaneOrientationSequence: [{ ImageOrientationPatient: [1, 0, 0, 0, 1, 0] }], PixelMeasuresSequence: [{ PixelSpacing: [1, 1] }] }],
    PerFrameFunctionalGroupsSequence: [
      { PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 0] }], PixelValueTransformationSequence: [{ RescaleSlope: 1, RescaleIntercept: -1024 }] },
      { PlanePositionSequence: [{ ImagePositionPatient: [0, 0, 1] }], PixelValueTransformationSequence: [{ RescaleSlope: 0, RescaleIntercept: -1024 }] },
    ],
  });
  expect(refusal(groupBySeries([h])[0])).toMatch(/every instance is damaged: .*RescaleSlope 0 of frame 2 is outside/);
});
