/**
 * Follow-up studies (generateStudyPair): the baseline is generateStudy's study, the follow-up the same phantom
 * rigidly shifted in the grid by the truth's shiftMm, with the same lesions (by lesionId) grown and moved a little.
 */
import { FOLLOW_UP_SUFFIX, GROWTH_RANGE, MAX_LESION_MOVE_MM, MAX_SHIFT_MM, generateStudyPair } from '../../../src/synth/follow-up';
import { generateStudy, type SynthStudy, type SynthTruthStudy } from '../../../src/synth/study';
import { truthFile } from '../../../src/synth/write-raw';

const SMALL = { size: 96, slices: 40, thickness: 2.5, lesions: [3, 5] as [number, number] };
const bytes = (s: SynthStudy) => Buffer.from(s.volume.data.buffer, s.volume.data.byteOffset, s.volume.data.byteLength);

/** The truth without the fields only a pair carries. */
function withoutPairFields(t: SynthTruthStudy): unknown {
  const { patientKey: _k, timepoint: _t, ...rest } = t;
  return { ...rest, lesions: t.lesions.map(({ lesionId: _id, ...l }) => l) };
}

describe('generateStudyPair', () => {
  const seeds = [31, 32, 33, 34];
  const pairs = seeds.map((seed) => {
    const p = generateStudyPair(seed, SMALL);
    return { seed, baseline: p.baseline, followUp: p.followUp() };
  });

  it('keeps the baseline identical to generateStudy, truth apart from lesionId, patientKey and timepoint', () => {
    for (const { seed, baseline } of pairs.slice(0, 2)) {
      const alone = generateStudy(seed, SMALL);
      expect(bytes(baseline).equals(bytes(alone))).toBe(true);
      expect({ ...baseline.volume, data: null }).toEqual({ ...alone.volume, data: null });
      expect(withoutPairFields(baseline.truth)).toEqual(alone.truth);
      for (const l of baseline.truth.lesions) expect(l.lesionId).toMatch(/^L\d+$/);
      expect(new Set(baseline.truth.lesions.map((l) => l.lesionId)).size).toBe(baseline.truth.lesions.length);
      expect(baseline.truth).toMatchObject({ patientKey: `PH${seed}`, timepoint: 0 });
      expect(baseline.truth.shiftMm).toBeUndefined();
    }
  });

  it('re-scans the same patient: same frame, new UIDs, a later date, the truth pairing the studies', () => {
    for (const { baseline, followUp } of pairs) {
      expect(followUp.name).toBe(baseline.name + FOLLOW_UP_SUFFIX);
      expect(followUp.truth).toMatchObject({ patientKey: baseline.truth.patientKey, timepoint: 1, followUpOf: baseline.name });
      // The shift is in the anatomy, not in the geometry a matcher reads.
      expect(followUp.volume.origin).toEqual(baseline.volume.origin);
      expect(followUp.volume.dims).toEqual(baseline.volume.dims);
      expect(followUp.volume.spacing).toEqual(baseline.volume.spacing);
      const shift = followUp.truth.shiftMm!;
      shift.forEach((v, a) => expect(Math.abs(v)).toBeLessThanOrEqual(MAX_SHIFT_MM[a]));
      expect(followUp.patient).toMatchObject({ id: baseline.patient.id, name: baseline.patient.name, birthDate: baseline.patient.birthDate });
      for (const uid of ['studyInstanceUID', 'seriesInstanceUID', 'frameOfReferenceUID'] as const) expect(followUp.volume[uid]).not.toBe(baseline.volume[uid]);
      expect(new Set([...followUp.volume.slices, ...baseline.volume.slices].map((s) => s.sopInstanceUID)).size).toBe(2 * baseline.volume.slices.length);
      const day = (d: string) => Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8)) / 86400000;
      const later = day(followUp.study.date) - day(baseline.study.date);
      expect(later).toBeGreaterThanOrEqual(90);
      expect(later).toBeLessThanOrEqual(365);
    }
  });

  it('carries every baseline lesion by lesionId, grown 0.7-1.5x and moved at most 5 mm with the anatomy, painted where the truth says', () => {
    let grown = 0, shrunk = 0, labelsDiffer = 0;
    for (const { baseline, followUp } of pairs) {
      const shift = followUp.truth.shiftMm!;
      const fu = new Map(followUp.truth.lesions.map((l) => [l.lesionId, l]));
      expect(fu.size).toBe(followUp.truth.lesions.length);
      expect(followUp.truth.lesions.length - baseline.truth.lesions.length).toBeGreaterThanOrEqual(0);
      expect(followUp.truth.lesions.length - baseline.truth.lesions.length).toBeLessThanOrEqual(1);
      for (const b of baseline.truth.lesions) {
        const f = fu.get(b.lesionId)!;
        expect({ id: b.lesionId, type: f?.type, subtype: f?.subtype }).toEqual({ id: b.lesionId, type: b.type, subtype: b.subtype });
        const growth = f.diameterMm / b.diameterMm;
        expect(growth).toBeGreaterThanOrEqual(GROWTH_RANGE[0] - 0.01);
        expect(growth).toBeLessThanOrEqual(GROWTH_RANGE[1] + 0.01);
        if (growth > 1.01) grown++;
        if (growth < 0.99) shrunk++;
        const move = Math.hypot(...[0, 1, 2].map((a) => f.centerLPS[a] - b.centerLPS[a] - shift[a]));
        expect(move).toBeLessThanOrEqual(MAX_LESION_MOVE_MM + 0.01);
        // The painted voxels (bboxLPS) surround the truth centre in the follow-up's own image.
        for (let a = 0; a < 3; a++) {
          expect(f.centerLPS[a]).toBeGreaterThan(f.bboxLPS[a]);
          expect(f.centerLPS[a]).toBeLessThan(f.bboxLPS[a + 3]);
        }
        expect(f.labeled.luna).toBe(f.type === 'lung_nodule' && f.subtype !== 'mass');
        if (f.labeled.deeplesion !== b.labeled.deeplesion) labelsDiffer++;
      }
      const ids = new Set(baseline.truth.lesions.map((l) => l.lesionId));
      for (const l of followUp.truth.lesions) if (!ids.has(l.lesionId)) expect(Number(l.lesionId!.slice(1))).toBeGreaterThanOrEqual(baseline.truth.lesions.length);
    }
    expect(grown).toBeGreaterThan(0);
    expect(shrunk).toBeGreaterThan(0);
    // DeepLesion-like labels are drawn again for the follow-up.
    expect(labelsDiffer).toBeGreaterThan(0);
  });

  it('moves the anatomy by shiftMm in the image: the follow-up sampled at baseline + shift matches the baseline', () => {
    // No noise and no lesions: what differs after undoing the shift is interpolation and partial volume only.
    const o = { size: 64, slices: 30, thickness: 2, noiseSd: 0, lesions: [0, 0] as [number, number] };
    const checked: number[] = [];
    for (const seed of [41, 42]) {
      const p = generateStudyPair(seed, o);
      const fu = p.followUp();
      const a = p.baseline.volume, b = fu.volume;
      const shift = fu.truth.shiftMm!;
      const [cols, rows, n] = a.dims;
      const sample = (x: number, y: number, z: number) => {
        const i0 = Math.floor(x), j0 = Math.floor(y), k0 = Math.floor(z);
        const fx = x - i0, fy = y - j0, fz = z - k0;
        let v = 0;
        for (const [di, wi] of [[0, 1 - fx], [1, fx]]) for (const [dj, wj] of [[0, 1 - fy], [1, fy]]) for (const [dk, wk] of [[0, 1 - fz], [1, fz]]) {
          v += wi * wj * wk * b.data[(k0 + dk) * rows * cols + (j0 + dj) * cols + (i0 + di)];
        }
        return v;
      };
      /** Mean |baseline - follow-up| with the follow-up read at baseline voxel + s (mm). */
      const misfit = (s: number[]) => {
        let sum = 0, count = 0;
        for (let k = 0; k < n; k++)
          for (let j = 0; j < rows; j++)
            for (let i = 0; i < cols; i++) {
              const x = i + s[0] / a.spacing[0], y = j + s[1] / a.spacing[1], z = k + s[2] / a.spacing[2];
              // The same inner voxels for every candidate shift (those inside the grid for any shift up to the maximum).
              if (i < 3 || j < 3 || k < 9 || i >= cols - 4 || j >= rows - 4 || k >= n - 10) continue;
              sum += Math.abs(a.data[k * rows * cols + j * cols + i] - sample(x, y, z));
              count++;
            }
        return sum / count;
      };
      const truth = misfit(shift);
      const none = misfit([0, 0, 0]);
      const mirrored = misfit([-shift[0], -shift[1], -shift[2]]);
      expect(truth).toBeLessThan(0.5 * none);
      expect(truth).toBeLessThan(0.5 * mirrored);
      checked.push(truth, none);
    }
    expect(checked).toHaveLength(4);
  });

  it('is deterministic: the same seed gives the same follow-up bytes and truth', () => {
    const again = generateStudyPair(pairs[0].seed, SMALL).followUp();
    expect(bytes(again).equals(bytes(pairs[0].followUp))).toBe(true);
    expect(JSON.stringify(truthFile(again))).toBe(JSON.stringify(truthFile(pairs[0].followUp)));
    expect(bytes(pairs[1].followUp).equals(bytes(pairs[0].followUp))).toBe(false);
  });
});
