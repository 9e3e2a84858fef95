/**
 * Training data of the proposal classifier (models/training/classifier_data.py reads it): per candidate its crops
 * and features as the runtime makes them (proposal-crops.ts), and a label. Written by scripts/classifier-candidates.ts
 * (phantoms and inserted lesions, exact truth) and by `lens model classifier-set` (a harvest's own labels).
 *
 * Folder: crops.u8 (crop values x 255, cropLength bytes per candidate), feats.f32 (FEATURE_COUNT per candidate),
 * meta.jsonl (one JSON line per candidate: its meta, label 1 lesion / 0 not / -1 ignored, score, box). Appended.
 * crop-spec.json: the crops' geometry (proposal-crops.ts), which the trained classifier's manifest carries on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Volume } from '../dicom/volume';
import type { BoxLPS } from './findings';
import { candidateInput, CROP_SPEC_FILE, CropSpecError, cropLength, DEFAULT_CROP_SPEC, FEATURE_COUNT, parseCropSpec, type CropSpec } from './proposal-crops';

export type ClassifierLabel = 1 | 0 | -1;

export class ClassifierDataWriter {
  private readonly crops: number;
  private readonly feats: number;
  private readonly meta: number;
  private readonly buf: Float32Array;
  private readonly feat = new Float32Array(FEATURE_COUNT);
  readonly counts = { pos: 0, neg: 0, ignore: 0 };

  constructor(
    readonly dir: string,
    readonly spec: CropSpec = DEFAULT_CROP_SPEC,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    // Appending crops of another geometry would make the folder unreadable: refuse before writing anything.
    const specFile = path.join(dir, CROP_SPEC_FILE);
    if (fs.existsSync(specFile)) {
      const had = parseCropSpec(JSON.parse(fs.readFileSync(specFile, 'utf8')), specFile);
      if (JSON.stringify(had) !== JSON.stringify(spec)) throw new CropSpecError(`${specFile}: the folder holds crops of another spec than the one asked for`);
    } else if (fs.existsSync(path.join(dir, 'crops.u8'))) {
      if (JSON.stringify(spec) !== JSON.stringify(DEFAULT_CROP_SPEC)) throw new CropSpecError(`${dir}: the folder holds crops of the default spec (no ${CROP_SPEC_FILE}), not the one asked for`);
    }
    fs.writeFileSync(specFile, JSON.stringify(spec, null, 1) + '\n');
    this.buf = new Float32Array(cropLength(spec));
    this.crops = fs.openSync(path.join(dir, 'crops.u8'), 'a');
    this.feats = fs.openSync(path.join(dir, 'feats.f32'), 'a');
    this.meta = fs.openSync(path.join(dir, 'meta.jsonl'), 'a');
  }

  add(v: Volume, box: BoxLPS, score: number, label: ClassifierLabel, meta: Record<string, unknown>): void {
    candidateInput(v, box, score, this.spec, this.buf, this.feat);
    fs.writeSync(this.crops, Uint8Array.from(this.buf, (x) => Math.round(x * 255)));
    fs.writeSync(this.feats, new Uint8Array(this.feat.buffer.slice(0)));
    fs.writeSync(this.meta, JSON.stringify({ ...meta, label, score: Math.round(score * 1e4) / 1e4, box }) + '\n');
    this.counts[label === 1 ? 'pos' : label === 0 ? 'neg' : 'ignore']++;
  }

  close(): void {
    for (const fd of [this.crops, this.feats, this.meta]) fs.closeSync(fd);
  }
}
