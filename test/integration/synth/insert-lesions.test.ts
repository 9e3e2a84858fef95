import type { BoxLPS } from '../../../src/detect/findings';
import { lpsToVoxel } from '../../../src/dicom/volume';
import { insertLesions, type InsertedStudy } from '../../../src/synth/insert-lesions';
import { buildTissueMap, RealTissue, tissueAt } from '../../../src/synth/real-tissue';
import { generateStudy } from '../../../src/synth/study';

// A lesion-free phantom stands in for real CT: known anatomy and noise, fast to make.
const background = generateStudy(4242, { size: 160, slices: 48, thickness: 2.5, region: 'chest-abdomen', lesions: [0, 0] });
const bg = background.volume;
const annotatedBox: BoxLPS = (() => {
  const c = [bg.origin[0] + 40 * bg.spacing[0], bg.origin[1] + 80 * bg.spacing[1], bg.origin[2] + 24 * bg.spacing[2]];
  return [c[0] - 10, c[1] - 10, c[2] - 10, c[0] + 10, c[1] + 10, c[2] + 10];
})();
const opts = { lesions: [5, 7] as [number, number], backgroundName: 'phantom-4242', annotated: [{ type: 'lung_tumour', bboxLPS: annotatedBox }] };

const inserted = (s: InsertedStudy) => s.truth.lesions.filter((l) => l.origin === 'inserted');
const overlap = (a: BoxLPS, b: BoxLPS) => [0, 1, 2].every((d) => a[d] < b[d + 3] && b[d] < a[d + 3]);

describe('insertLesions', () => {
  const a = insertLesions(bg, 11, opts);

  it('is deterministic by seed: the same bytes and truth for a seed, others for another seed', () => {
    const again = insertLesions(bg, 11, opts);
    const other = insertLesions(bg, 12, opts);
    expect(Buffer.from(again.volume.data.buffer).equals(Buffer.from(a.volume.data.buffer))).toBe(true);
    expect(JSON.stringify(again.truth)).toBe(JSON.stringify(a.truth));
    expect(Buffer.from(other.volume.data.buffer).equals(Buffer.from(a.volume.data.buffer))).toBe(false);
    expect(other.volume.studyInstanceUID).not.toBe(a.volume.studyInstanceUID);
    // New identity: never the background's UIDs.
    expect(a.volume.studyInstanceUID).not.toBe(bg.studyInstanceUID);
    expect(a.volume.slices[0].sopInstanceUID).not.toBe(bg.slices[0].sopInstanceUID);
    expect(a.truth.studyInstanceUID).toBe(a.volume.studyInstanceUID);
  });

  it('inserts lesions of several types and keeps the annotated lesion in the truth, unoverlapped', () => {
    const ins = inserted(a);
    expect(ins.length).toBeGreaterThanOrEqual(3);
    const types = new Set([0, 1, 2].flatMap((s) => inserted(insertLesions(bg, 20 + s, opts)).map((l) => l.type)));
    expect(types.size).toBeGreaterThanOrEqual(3);
    const ann = a.truth.lesions.filter((l) => l.origin === 'annotated');
    expect(ann).toEqual([{ type: 'lung_tumour', bboxLPS: annotatedBox, origin: 'annotated' }]);
    for (const l of ins) expect(overlap(l.bboxLPS, annotatedBox)).toBe(false);
    for (let i = 0; i < ins.length; i++) for (let j = i + 1; j < ins.length; j++) expect(overlap(ins[i].bboxLPS, ins[j].bboxLPS)).toBe(false);
  });

  it('changes voxels only around the truth boxes, and paints the nominal HU inside them with the noise kept', () => {
    const [cols, rows, slices] = bg.dims;
    const boxes = inserted(a).map((l) => {
      const lo = lpsToVoxel(bg, [l.bboxLPS[0], l.bboxLPS[1], l.bboxLPS[2]]);
      const hi = lpsToVoxel(bg, [l.bboxLPS[3], l.bboxLPS[4], l.bboxLPS[5]]);
      return { l, lo, hi };
    });
    // Outside every box grown by 2 voxels (blur and sub-quarter partial volume) nothing moved.
    let changedOutside = 0;
    for (let k = 0; k < slices; k++)
      for (let j = 0; j < rows; j++)
        for (let i = 0; i < cols; i++) {
          const idx = (k * rows + j) * cols + i;
          if (a.volume.data[idx] === bg.data[idx]) continue;
          const near = boxes.some(({ lo, hi }) => i >= lo[0] - 2 && i <= hi[0] + 2 && j >= lo[1] - 2 && j <= hi[1] + 2 && k >= lo[2] - 2 && k <= hi[2] + 2);
          if (!near) changedOutside++;
        }
    expect(changedOutside).toBe(0);
    const noise = background.series.noiseSd;
    for (const { l } of boxes) {
      if (l.origin !== 'inserted') continue;
      // The key slice box lies inside the 3D box, on a slice inside it.
      const [x1, y1, x2, y2] = l.keySliceBoxPx;
      const k = l.keySlice.sliceIndex;
      const lo = lpsToVoxel(bg, [l.bboxLPS[0], l.bboxLPS[1], l.bboxLPS[2]]), hi = lpsToVoxel(bg, [l.bboxLPS[3], l.bboxLPS[4], l.bboxLPS[5]]);
      expect(x1).toBeGreaterThanOrEqual(lo[0]);
      expect(x2).toBeLessThanOrEqual(hi[0]);
      expect(y1).toBeGreaterThanOrEqual(lo[1]);
      expect(y2).toBeLessThanOrEqual(hi[1]);
      expect(k).toBeGreaterThanOrEqual(lo[2]);
      expect(k).toBeLessThanOrEqual(hi[2]);
      for (let d = 0; d < 3; d++) expect(l.centerLPS[d]).toBeGreaterThan(l.bboxLPS[d]), expect(l.centerLPS[d]).toBeLessThan(l.bboxLPS[d + 3]);
      if (l.subtype === 'part-solid nodule' || l.diameterMm < 12) continue;
      // A 3 x 3 patch at the centre of the key slice: the lesion's HU plus the background's own noise.
      const c = lpsToVoxel(bg, l.centerLPS);
      const ci = Math.round(c[0]), cj = Math.round(c[1]), ck = Math.round(c[2]);
      const vals: number[] = [];
      for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) vals.push(a.volume.data[(ck * rows + cj + dj) * cols + ci + di]);
      const mean = vals.reduce((s, v) => s + v, 0) / vals.length;
      expect(Math.abs(mean - l.nominalHU)).toBeLessThan(4 * noise);
      const sd = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / (vals.length - 1));
      expect(sd).toBeGreaterThan(0.2 * noise);
    }
  });

  it('puts lung nodules in aerated lung and bone lesions in bone of the background', () => {
    const map = buildTissueMap(bg);
    let checked = 0;
    for (let s = 0; s < 3; s++)
      for (const l of inserted(insertLesions(bg, 100 + s, { ...opts, annotated: [] }))) {
        const c = lpsToVoxel(bg, l.centerLPS).map(Math.round) as [number, number, number];
        const t = tissueAt(map, c[0], c[1], c[2]);
        if (l.type === 'lung_nodule') expect(t).toBe(RealTissue.lung), checked++;
        if (l.type === 'bone_lesion') expect(t).toBe(RealTissue.bone), checked++;
        if (l.type === 'lymph_node') expect(t).toBe(RealTissue.fat), checked++;
      }
    expect(checked).toBeGreaterThan(3);
  });
});
