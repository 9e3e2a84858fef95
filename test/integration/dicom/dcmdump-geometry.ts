/** Geometry of DICOM files as dcmtk's dcmdump reads them: the independent reference the dicom tests compare with. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface DumpedGeometry {
  file: string;
  ipp: number[];
  iop: number[];
  ps: number[];
  rows: number;
  cols: number;
  frameOfReferenceUID: string;
}

/** ImagePositionPatient, ImageOrientationPatient, PixelSpacing, Rows, Columns, FrameOfReferenceUID of every .dcm in dir. */
export function dcmdumpGeometry(dir: string): DumpedGeometry[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.dcm')).map((f) => path.join(dir, f));
  const out = execFileSync('dcmdump', ['+F', '+P', '0020,0032', '+P', '0020,0037', '+P', '0028,0030', '+P', '0028,0010', '+P', '0028,0011', '+P', '0020,0052', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const val = (block: string, tag: string) => new RegExp(`\\(${tag}\\) \\w\\w \\[?([^\\]#]*?)\\]?\\s+#`).exec(block)?.[1].trim() ?? '';
  return out
    .split(/^# dcmdump \(\d+\/\d+\): /m)
    .filter((b) => b.includes('(0020,0032)'))
    .map((b) => ({
      file: b.slice(0, b.indexOf('\n')).trim(),
      ipp: val(b, '0020,0032').split('\\').map(Number),
      iop: val(b, '0020,0037').split('\\').map(Number),
      ps: val(b, '0028,0030').split('\\').map(Number),
      rows: Number(val(b, '0028,0010')),
      cols: Number(val(b, '0028,0011')),
      frameOfReferenceUID: val(b, '0020,0052'),
    }));
}

/** The slice normal of an ImageOrientationPatient (row x column). */
export function normalOf(iop: number[]): number[] {
  return [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
}

/** The files sorted by position along their normal, each with that position. */
export function sortedAlongNormal(g: DumpedGeometry[]): (DumpedGeometry & { z: number })[] {
  const n = normalOf(g[0].iop);
  return g.map((x) => ({ ...x, z: x.ipp.reduce((s, v, i) => s + v * n[i], 0) })).sort((a, b) => a.z - b.z);
}
