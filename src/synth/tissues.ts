/**
 * Tissue labels painted into the phantom and their Hounsfield units. One label per pixel records the tissue that
 * covers most of it: later layers may be restricted to earlier tissues (vessels only inside lung, a liver lesion
 * only inside liver), and lesion placement asks which tissue lies at a point.
 */
export const T = {
  air: 0,
  subcutFat: 1,
  muscle: 2,
  visceralFat: 3,
  mediastinalFat: 4,
  lung: 5,
  lungVessel: 6,
  airway: 7,
  airwayWall: 8,
  heart: 9,
  blood: 10,
  aorta: 11,
  vein: 12,
  liver: 13,
  spleen: 14,
  kidney: 15,
  renalSinus: 16,
  cortical: 17,
  cancellous: 18,
  disc: 19,
  canal: 20,
  bowelWall: 21,
  bowelContent: 22,
  gas: 23,
  stomachWall: 24,
  gallbladder: 25,
  table: 26,
  esophagus: 27,
  pancreas: 28,
  lesion: 40,
} as const;
export type Tissue = (typeof T)[keyof typeof T];

/** A lookup table of allowed underlying tissues for a restricted layer. */
export function tissueSet(...tissues: number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const x of tissues) t[x] = 1;
  return t;
}

/**
 * Nominal HU ranges (before noise) drawn per study; docs/synth.md reproduces this table.
 * Unenhanced values unless the study is drawn with contrast (then blood, aorta, heart chambers enhance).
 */
export const HU_RANGES: Record<string, [number, number]> = {
  air: [-1000, -1000],
  fat: [-110, -90],
  muscle: [40, 60],
  lung: [-870, -830],
  heartMuscle: [40, 50],
  bloodPlain: [35, 45],
  bloodContrast: [150, 250],
  liver: [55, 65],
  spleen: [45, 50],
  kidney: [30, 40],
  renalSinus: [-80, -40],
  cortical: [700, 1000],
  cancellous: [200, 300],
  disc: [70, 90],
  canal: [10, 25],
  bowelWall: [35, 50],
  bowelFluid: [5, 30],
  stool: [-200, 20],
  gallbladder: [0, 15],
  pancreas: [35, 45],
};
