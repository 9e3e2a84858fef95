/** Distinct display colours per segment, as DICOM CIELab (PS3.3 C.10.7.1.1: scaled to 0..65535). */

/** Hue by the golden angle: neighbouring segment numbers get far-apart hues. */
export function segmentRgb(segmentNumber: number): [number, number, number] {
  const h = ((segmentNumber - 1) * 137.508) % 360;
  return hsvToRgb(h, 0.85, 1);
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const c = v * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = v - c;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [r + m, g + m, b + m].map((u) => Math.round(u * 255)) as [number, number, number];
}

/** sRGB (0..255) -> CIELab (D65) -> DICOM scaled unsigned values. */
export function rgbToDicomLab([r8, g8, b8]: [number, number, number]): [number, number, number] {
  const lin = (u: number) => {
    const c = u / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = [lin(r8), lin(g8), lin(b8)];
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const L = 116 * f(y) - 16;
  const a = 500 * (f(x) - f(y));
  const bb = 200 * (f(y) - f(z));
  const clamp = (v: number) => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((bb + 128) * 65535) / 255)];
}
