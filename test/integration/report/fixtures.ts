/**
 * Inputs for the report tests: the real lung-dx-a0001 series 3 (or 2) with findings built by hand from its annotation
 * (a box around the tumour on its largest slice), and synthetic volumes with any number of lesions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadSelectedVolume } from '../../../src/dicom/load-folder';
import { selectionSchema } from '../../../src/config/schema';
import type { Findings, Lesion, LesionType } from '../../../src/detect/findings';
import type { LesionMask } from '../../../src/detect/lesions';
import { LESION_TYPES } from '../../../src/detect/findings';
import type { Volume } from '../../../src/dicom/volume';
import { voxelToLPS } from '../../../src/dicom/volume';
import { deriveUid } from '../../../src/report/uid';

export const CT_ROOT = path.resolve(__dirname, '../../../../shared/data/ct');
export const LUNG_SERIES3 = path.join(CT_ROOT, 'lung-dx-a0001/series3_5mm_kernelB');
export const LUNG_SERIES2 = path.join(CT_ROOT, 'lung-dx-a0001/series2_5mm_kernelL');

export const MODEL = { name: 'lens-ulb', version: '0.1.0', executionProvider: 'cpu' };

export async function loadLungCase(seriesDir = LUNG_SERIES3): Promise<{ volume: Volume; sourceDataset: Record<string, any>; findings: Findings }> {
  const { volume, firstDataset } = await loadSelectedVolume(seriesDir, selectionSchema.parse({}));
  const csv = fs.readFileSync(path.join(CT_ROOT, 'lung-dx-a0001/lesion_bboxes.csv'), 'utf8').trim().split('\n').slice(1);
  const rows = csv.map((l) => l.split(',')).filter((c) => c[2] === volume.seriesInstanceUID);
  // The key slice: the annotation with the largest box.
  const area = (c: string[]) => (+c[8] - +c[6]) * (+c[9] - +c[7]);
  const key = rows.reduce((a, b) => (area(b) > area(a) ? b : a));
  const truth = JSON.parse(fs.readFileSync(path.join(CT_ROOT, 'lung-dx-a0001/truth.json'), 'utf8'));
  const box = [+key[6], +key[7], +key[8], +key[9]] as [number, number, number, number];
  const lesion: Lesion = {
    id: 1,
    trackingUid: deriveUid('test lesion', volume.seriesInstanceUID, '1'),
    type: 'lung_nodule',
    score: 0.91,
    bboxLPS: truth.studies[0].lesions[0].bboxLPS,
    keySlice: { sopInstanceUID: key[1], box },
    longAxisMm: Math.max(box[2] - box[0], box[3] - box[1]) * +key[10],
    shortAxisMm: Math.min(box[2] - box[0], box[3] - box[1]) * +key[10],
  };
  const findings: Findings = {
    studyInstanceUID: volume.studyInstanceUID,
    seriesInstanceUID: volume.seriesInstanceUID,
    model: MODEL,
    lesions: [lesion],
    timingsMs: {},
  };
  return { volume, sourceDataset: firstDataset, findings };
}

/** n lesions spread over the volume, cycling through the lesion types, boxes inside the volume. */
export function syntheticFindings(volume: Volume, n: number, seed = 1): Findings {
  const [cols, rows, slices] = volume.dims;
  const lesions: Lesion[] = [];
  for (let id = 1; id <= n; id++) {
    const t = (id * 0.6180339887 + seed * 0.1) % 1;
    const w = 6 + (id % 5) * 3;
    const ci = Math.round(cols * (0.2 + 0.6 * t));
    const cj = Math.round(rows * (0.2 + 0.6 * ((t * 7.3) % 1)));
    const ck = Math.min(slices - 1, Math.max(0, Math.round((slices - 1) * ((t * 3.7) % 1))));
    const dk = Math.min(2, Math.floor(slices / 4));
    const k0 = Math.max(0, ck - dk);
    const k1 = Math.min(slices - 1, ck + dk);
    const a = voxelToLPS(volume, ci - w / 2, cj - w / 2, k0 - 0.5);
    const b = voxelToLPS(volume, ci + w / 2, cj + w / 2, k1 + 0.5);
    const type: LesionType = LESION_TYPES[(id - 1) % LESION_TYPES.length];
    lesions.push({
      id,
      trackingUid: deriveUid('synthetic lesion', volume.seriesInstanceUID, String(id)),
      type,
      score: Math.round((1 - id / (n + 1)) * 1000) / 1000,
      bboxLPS: [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.min(a[2], b[2]), Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.max(a[2], b[2])],
      keySlice: { sopInstanceUID: volume.slices[ck].sopInstanceUID, box: [ci - w / 2, cj - w / 2, ci + w / 2, cj + w / 2] },
      longAxisMm: w * volume.spacing[0],
      shortAxisMm: w * volume.spacing[1] * 0.8,
    });
  }
  return { studyInstanceUID: volume.studyInstanceUID, seriesInstanceUID: volume.seriesInstanceUID, model: MODEL, lesions, timingsMs: {} };
}

/** dciodvfy's output (it writes to stderr and may exit non-zero); the object is valid when no line says Error. */
export function dciodvfy(file: string): { output: string; errors: string[] } {
  const output = execFileSync('sh', ['-c', 'dciodvfy "$1" 2>&1; echo "exit=$?"', 'sh', file], { encoding: 'utf8' });
  return { output, errors: output.split('\n').filter((l) => /error/i.test(l)) };
}

/** dsrdump's content tree and exit status; `options` e.g. +Pl to print long texts whole. */
export function dsrdump(file: string, options: string[] = []): { output: string; exitCode: number } {
  const out = execFileSync('sh', ['-c', 'f="$1"; shift; dsrdump "$@" "$f" 2>&1; echo "exit=$?"', 'sh', file, ...options], { encoding: 'utf8' });
  const m = /exit=(\d+)\s*$/.exec(out);
  return { output: out, exitCode: m ? Number(m[1]) : -1 };
}

/** The lung case with the tumour plus n synthetic findings elsewhere in the series (n + 1 measurement groups). */
export async function loadLungCaseWithExtras(n: number): Promise<{ volume: Volume; sourceDataset: Record<string, any>; findings: Findings }> {
  const c = await loadLungCase();
  const extra = syntheticFindings(c.volume, n, 7).lesions.map((l, i) => ({ ...l, id: i + 2 }));
  return { ...c, findings: { ...c.findings, lesions: [...c.findings.lesions, ...extra] } };
}

/**
 * A model-style mask for each of the given lesions: on its key slice and the slices next to it, a crop of the key
 * box holding the inscribed ellipse (what D2's LesionMask carries), so that SEG frames come from crops, not boxes.
 */
export function modelMasks(volume: Volume, findings: Findings, ids: number[]): Map<number, LesionMask> {
  const masks = new Map<number, LesionMask>();
  for (const l of findings.lesions.filter((x) => ids.includes(x.id))) {
    const k = volume.slices.findIndex((s) => s.sopInstanceUID === l.keySlice.sopInstanceUID);
    const [x1, y1, x2, y2] = l.keySlice.box.map(Math.round);
    const width = Math.max(1, x2 - x1);
    const height = Math.max(1, y2 - y1);
    const data = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = (x + 0.5) / width - 0.5;
        const dy = (y + 0.5) / height - 0.5;
        if (dx * dx + dy * dy <= 0.25) data[y * width + x] = 1;
      }
    }
    const frames = [k - 1, k, k + 1]
      .filter((i) => i >= 0 && i < volume.slices.length)
      .map((i) => ({ sliceIndex: i, sopInstanceUID: volume.slices[i].sopInstanceUID, frameNumber: volume.slices[i].frameNumber, x0: Math.max(0, x1), y0: Math.max(0, y1), width, height, data }));
    masks.set(l.id, { frames });
  }
  return masks;
}
