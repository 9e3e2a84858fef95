import { parseMix } from '../../../src/synth/options';
import { generateStudy, phantomTissueAt, planStudy } from '../../../src/synth/study';

describe('phantomTissueAt', () => {
  // Lesions are placed with their centre in their home tissue, so the truth's LPS centres name it back.
  it('names the tissue each lesion was placed in, from the truth LPS centre', () => {
    const options = { size: 64, thickness: 5, region: 'chest-abdomen' as const, mix: parseMix('lung_nodule=1, liver_lesion=1'), lesions: [4, 4] as [number, number] };
    const seen = new Set<string>();
    for (const seed of [3, 4, 5]) {
      const plan = planStudy(seed, options);
      for (const l of generateStudy(seed, options).truth.lesions) {
        const tissue = phantomTissueAt(plan, l.centerLPS);
        expect(l.type === 'liver_lesion' ? ['liver'] : ['lung', 'lungVessel']).toContain(tissue);
        seen.add(l.type);
      }
    }
    expect([...seen].sort()).toEqual(['liver_lesion', 'lung_nodule']);
  });
  it('is air outside the body', () => {
    const plan = planStudy(3, { size: 64 });
    expect(phantomTissueAt(plan, [900, 900, plan.zApex - plan.sOfSlice[0]])).toBe('air');
  });
});
