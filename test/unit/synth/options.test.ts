import { parseMix } from '../../../src/synth/options';
import { generateStudy } from '../../../src/synth/study';
import { synthUid } from '../../../src/synth/uids';

describe('parseMix', () => {
  it('parses weights and zeroes the types it does not name', () => {
    const m = parseMix('lung_nodule=3, liver_lesion');
    expect(m.lung_nodule).toBe(3);
    expect(m.liver_lesion).toBe(1);
    expect(m.kidney_cyst).toBe(0);
  });
  it('names what is wrong', () => {
    expect(() => parseMix('tumour=1')).toThrow(/unknown lesion type "tumour"/);
    expect(() => parseMix('lung_nodule=-1')).toThrow(/lung_nodule/);
    expect(() => parseMix('lung_nodule=0')).toThrow(/weight 0/);
  });
  it('restricts the lesion types of a study', () => {
    const s = generateStudy(11, { size: 64, thickness: 5, region: 'chest', mix: parseMix('lung_nodule'), lesions: [3, 3] });
    expect(s.truth.lesions.length).toBeGreaterThan(0);
    for (const l of s.truth.lesions) expect(l.type).toBe('lung_nodule');
  });
});

describe('options and UIDs', () => {
  it('rejects bad options with a message naming the option', () => {
    expect(() => generateStudy(-1)).toThrow(/seed/);
    expect(() => generateStudy(1, { size: 7 })).toThrow(/size/);
    expect(() => generateStudy(1, { slices: 0 })).toThrow(/slices/);
  });
  it('makes valid 2.25 UIDs that depend on every part', () => {
    const u = synthUid(1, 'study');
    expect(u).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(u.length).toBeLessThanOrEqual(64);
    expect(synthUid(1, 'study')).toBe(u);
    expect(synthUid(2, 'study')).not.toBe(u);
    expect(synthUid(1, 'series')).not.toBe(u);
  });
  it('honours size, slices, thickness and spacing', () => {
    const s = generateStudy(5, { size: 40, slices: 6, thickness: 2.5, pixelSpacing: 8, lesions: [0, 0] });
    expect(s.volume.dims).toEqual([40, 40, 6]);
    expect(s.volume.spacing).toEqual([8, 8, 2.5]);
    expect(s.volume.data.length).toBe(40 * 40 * 6);
  });
});
