import { LESION_TYPES } from '../../../src/detect/findings';
import { generateStudy, anatomyFor, type SynthStudy } from '../../../src/synth/study';
import { truthFile } from '../../../src/synth/write-raw';
import { HU_RANGES, T } from '../../../src/synth/tissues';

const SMALL = { size: 96, slices: 20, thickness: 5 } as const;

describe('generateStudy determinism', () => {
  it('gives identical bytes and truth for the same seed, different ones for another seed', () => {
    const a = generateStudy(101, SMALL);
    const b = generateStudy(101, SMALL);
    const c = generateStudy(102, SMALL);
    expect(Buffer.from(a.volume.data.buffer).equals(Buffer.from(b.volume.data.buffer))).toBe(true);
    expect(JSON.stringify(truthFile(a))).toBe(JSON.stringify(truthFile(b)));
    expect(Buffer.from(a.volume.data.buffer).equals(Buffer.from(c.volume.data.buffer))).toBe(false);
    expect(a.volume.studyInstanceUID).not.toBe(c.volume.studyInstanceUID);
  });

  it('numbers instances top-down for some seeds and bottom-up for others, with the volume always ascending in z', () => {
    const orders = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const s = generateStudy(seed, { size: 32, slices: 4, thickness: 5, lesions: [0, 0] });
      orders.add(s.instanceOrder);
      const z = s.volume.slices.map((x) => x.position[2]);
      for (let k = 1; k < z.length; k++) expect(z[k] - z[k - 1]).toBeCloseTo(5, 6);
      const top = s.instanceNumbers[z.length - 1];
      expect(top).toBe(s.instanceOrder === 'descending' ? 1 : z.length);
    }
    expect([...orders].sort()).toEqual(['ascending', 'descending']);
  });
});

describe('truth', () => {
  const studies: SynthStudy[] = [3, 4, 5, 6].map((seed) => generateStudy(seed, { size: 96, slices: 50, thickness: 4, lesions: [3, 6] }));

  it('has the TruthFile shape with typed, labeled lesions inside the volume', () => {
    for (const s of studies) {
      const f = truthFile(s);
      expect(f.source).toContain(String(s.seed));
      expect(f.studies).toHaveLength(1);
      expect(f.studies[0].studyInstanceUID).toBe(s.volume.studyInstanceUID);
      expect(f.studies[0].seriesInstanceUIDs).toEqual([s.volume.seriesInstanceUID]);
      const [cols, rows, n] = s.volume.dims;
      for (const l of s.truth.lesions) {
        expect(LESION_TYPES).toContain(l.type);
        expect(l.bboxLPS).toHaveLength(6);
        for (let a = 0; a < 3; a++) expect(l.bboxLPS[a]).toBeLessThan(l.bboxLPS[a + 3]);
        expect(Object.keys(l.labeled).sort()).toEqual(['deeplesion', 'lits', 'luna', 'nihln']);
        expect(l.labeled.luna).toBe(l.type === 'lung_nodule' && l.subtype !== 'mass');
        expect(l.labeled.lits).toBe(l.type === 'liver_lesion');
        expect(l.labeled.nihln).toBe(l.type === 'lymph_node');
        const [x1, y1, x2, y2] = l.keySliceBoxPx;
        expect(0 <= x1 && x1 <= x2 && x2 < cols && 0 <= y1 && y1 <= y2 && y2 < rows).toBe(true);
        expect(l.keySlice.sliceIndex).toBeGreaterThanOrEqual(0);
        expect(l.keySlice.sliceIndex).toBeLessThan(n);
        expect(s.volume.slices[l.keySlice.sliceIndex].sopInstanceUID).toBe(l.keySlice.sopInstanceUID);
      }
    }
  });

  it('boxes every lesion: the study differs from the same study without lesions only at its boxes, towards the lesion HU', () => {
    let checked = 0;
    for (const s of studies) {
      // Lesions are drawn last and from their own generator: without them anatomy, geometry and noise are identical.
      const bare = generateStudy(s.seed, { size: 96, slices: 50, thickness: 4, lesions: [0, 0] });
      const v = s.volume;
      const [cols, rows, n] = v.dims;
      const toIdx = (x: number, axis: number) => (x - v.origin[axis]) / v.spacing[axis];
      const boxes = s.truth.lesions.map((l) => ({
        l,
        lo: [0, 1, 2].map((a) => Math.ceil(toIdx(l.bboxLPS[a], a) - 1e-6)),
        hi: [0, 1, 2].map((a) => Math.floor(toIdx(l.bboxLPS[a + 3], a) + 1e-6)),
        sum: 0, bareSum: 0, count: 0,
      }));
      const margin = [2, 2, 1];
      for (let k = 0; k < n; k++)
        for (let j = 0; j < rows; j++)
          for (let i = 0; i < cols; i++) {
            const idx = k * rows * cols + j * cols + i;
            const p = [i, j, k];
            let near = false;
            for (const bx of boxes) {
              if (p.every((c, a) => c >= bx.lo[a] && c <= bx.hi[a])) { bx.sum += v.data[idx]; bx.bareSum += bare.volume.data[idx]; bx.count++; }
              if (p.every((c, a) => c >= bx.lo[a] - margin[a] && c <= bx.hi[a] + margin[a])) near = true;
            }
            if (!near && v.data[idx] !== bare.volume.data[idx]) throw new Error(`seed ${s.seed}: voxel (${i},${j},${k}) changed outside every lesion box (${v.data[idx]} vs ${bare.volume.data[idx]}); boxes ${JSON.stringify(boxes.map((b) => [b.l.type, b.lo, b.hi]))}`);
          }
      for (const bx of boxes) {
        expect(bx.count).toBeGreaterThan(0);
        const withL = bx.sum / bx.count, without = bx.bareSum / bx.count;
        expect(Math.sign(withL - without)).toBe(Math.sign(bx.l.nominalHU - without));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('puts more than half of the lesions outside the DeepLesion-like labels over many draws', () => {
    let all = 0, labeled = 0;
    for (const s of studies) for (const l of s.truth.lesions) { all++; if (l.labeled.deeplesion) labeled++; }
    for (let seed = 20; seed < 30; seed++) for (const l of generateStudy(seed, { size: 32, slices: 30, thickness: 10, lesions: [6, 6] }).truth.lesions) { all++; if (l.labeled.deeplesion) labeled++; }
    expect(all).toBeGreaterThan(30);
    expect(labeled / all).toBeLessThan(0.5);
  });
});

describe('tissue HU', () => {
  it('paints organs with HU in their documented ranges (noise off), air outside at -1000', () => {
    const seed = 7;
    const s = generateStudy(seed, { size: 96, thickness: 8, region: 'chest-abdomen', noiseSd: 0, lesions: [0, 0] });
    const anatomy = anatomyFor(seed);
    const v = s.volume;
    const [cols, rows, n] = v.dims;
    const ps = v.spacing[0];
    const expectRange: Record<number, [number, number]> = {
      [T.liver]: HU_RANGES.liver,
      [T.spleen]: HU_RANGES.spleen,
      [T.subcutFat]: HU_RANGES.fat,
      [T.air]: [-1000, -1000],
    };
    // Lung voxels sit among vessels too thin for the interior test: judge their median.
    const lung: number[] = [];
    const seen: Record<number, number> = {};
    for (let k = 1; k < n - 1; k += 2)
      for (let j = 4; j < rows - 4; j += 3)
        for (let i = 4; i < cols - 4; i += 3) {
          const x = v.origin[0] + i * ps, y = v.origin[1] + j * ps, sPos = s.zApex - v.slices[k].position[2];
          const t = anatomy.tissueAt(x, y, sPos);
          if (t === T.lung) {
            lung.push(v.data[k * rows * cols + j * cols + i]);
            continue;
          }
          if (!(t in expectRange)) continue;
          // Air only in front of the patient: thin table shells behind could slip between the interior probes.
          if (t === T.air && y > -anatomy.marks.anterior) continue;
          // Interior voxels only: the same tissue 2 pixels and one slice away in every direction.
          const d = 2 * ps, dz = v.spacing[2];
          const around = [[d, 0, 0], [-d, 0, 0], [0, d, 0], [0, -d, 0], [0, 0, dz], [0, 0, -dz], [d, d, 0], [-d, -d, 0]];
          if (!around.every(([a, b, c]) => anatomy.tissueAt(x + a, y + b, sPos + c) === t)) continue;
          const hu = v.data[k * rows * cols + j * cols + i];
          const [lo, hi] = expectRange[t];
          if (hu < lo - 12 || hu > hi + 12) throw new Error(`tissue ${t} at (${i},${j},${k}) has HU ${hu}, expected ${lo}..${hi}`);
          seen[t] = (seen[t] ?? 0) + 1;
        }
    for (const t of [T.liver, T.air]) expect(seen[t]).toBeGreaterThan(10);
        lung.sort((a, b) => a - b);
    expect(lung.length).toBeGreaterThan(100);
    const median = lung[lung.length >> 1];
    expect(median).toBeGreaterThan(HU_RANGES.lung[0] - 50);
    expect(median).toBeLessThan(HU_RANGES.lung[1] + 50);
  });
});
