/**
 * A proposal classifier's crops travel with it (proposal-crops.ts CropSpec): from the training data folder's
 * crop-spec.json to the manifest's input.crop, which the runtime reads; classifiers made before it was recorded keep
 * the default crops.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClassifierDataWriter } from '../../../src/detect/classifier-data-writer';
import { ModelError } from '../../../src/detect/load-manifest';
import { readProposalManifest } from '../../../src/detect/proposal-classifier';
import { channelCount, CROP_SPEC_FILE, CropSpecError, DEFAULT_CROP_SPEC, parseCropSpec, type CropSpec } from '../../../src/detect/proposal-crops';

const repo = path.resolve(__dirname, '../../..');
const z64 = JSON.parse(fs.readFileSync(path.join(repo, 'models/training/crop-specs/z64.json'), 'utf8')) as unknown;

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-crop-spec-'))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('parseCropSpec', () => {
  it('reads the specs the repository declares', () => {
    expect(parseCropSpec(JSON.parse(JSON.stringify(DEFAULT_CROP_SPEC)), 'default')).toEqual(DEFAULT_CROP_SPEC);
    const spec = parseCropSpec(z64, 'z64.json');
    expect(spec.size).toEqual([16, 16, 16]);
    expect(spec.fixedMm[0]).toBe(64);
  });

  it.each([
    [{ ...DEFAULT_CROP_SPEC, size: [8, 16] }, /size must be three positive integers/],
    [{ ...DEFAULT_CROP_SPEC, size: [8, 16, 15.5] }, /size must be three positive integers/],
    [{ ...DEFAULT_CROP_SPEC, fixedMm: [32, -1, 40] }, /fixedMm must be three positive numbers/],
    [{ ...DEFAULT_CROP_SPEC, windows: [[200, -1000]] }, /windows must be/],
    [{ ...DEFAULT_CROP_SPEC, minMm: 200 }, /minMm exceeds maxMm/],
    [{ ...DEFAULT_CROP_SPEC, boxfactor: 2 }, /unknown keys boxfactor/],
    ['8x16x16', /is not an object/],
  ])('names what is wrong: %j', (raw, message) => {
    expect(() => parseCropSpec(raw, 'spec.json')).toThrow(CropSpecError);
    expect(() => parseCropSpec(raw, 'spec.json')).toThrow(message);
  });
});

describe('ClassifierDataWriter', () => {
  it('writes its spec beside the crops, and refuses to append crops of another spec', () => {
    const spec = parseCropSpec(z64, 'z64.json');
    const dir = path.join(tmp, 'set');
    new ClassifierDataWriter(dir, spec).close();
    expect(JSON.parse(fs.readFileSync(path.join(dir, CROP_SPEC_FILE), 'utf8'))).toEqual(spec);
    new ClassifierDataWriter(dir, spec).close();
    expect(() => new ClassifierDataWriter(dir)).toThrow(/crops of another spec/);
  });

  it('treats a folder of crops without a spec file as default crops', () => {
    const dir = path.join(tmp, 'old');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'crops.u8'), '');
    expect(() => new ClassifierDataWriter(dir, parseCropSpec(z64, 'z64.json'))).toThrow(/default spec/);
    new ClassifierDataWriter(dir).close();
    expect(JSON.parse(fs.readFileSync(path.join(dir, CROP_SPEC_FILE), 'utf8'))).toEqual(DEFAULT_CROP_SPEC);
  });
});

describe('readProposalManifest', () => {
  function manifest(input: Record<string, unknown>): string {
    fs.writeFileSync(path.join(tmp, 'model.onnx'), '');
    const m = { name: 'c', version: '1', file: 'model.onnx', input: { crops: 'crops', features: 'features', ...input }, output: { probability: 'probability' } };
    fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(m));
    return tmp;
  }
  const spec = () => parseCropSpec(z64, 'z64.json');

  it('gives the crops of input.crop, and the default ones to a manifest without it', () => {
    expect(readProposalManifest(manifest({ channels: 4, size: [16, 16, 16], crop: z64 })).spec).toEqual(spec());
    expect(readProposalManifest(manifest({ channels: 4, size: [8, 16, 16] })).spec).toEqual(DEFAULT_CROP_SPEC);
  });

  it('refuses a manifest whose channels or size disagree with its crops, or whose crop spec is invalid', () => {
    const wider: CropSpec = { ...spec(), windows: [...spec().windows, [0, 100]] };
    expect(channelCount(wider)).toBe(6);
    expect(() => readProposalManifest(manifest({ channels: 4, size: [16, 16, 16], crop: wider }))).toThrow(/does not match its crops \(6 channels of 16 x 16 x 16\)/);
    expect(() => readProposalManifest(manifest({ channels: 4, size: [16, 16, 16] }))).toThrow(ModelError);
    expect(() => readProposalManifest(manifest({ channels: 4, size: [16, 16, 16], crop: { ...spec(), maxMm: 0 } }))).toThrow(/input.crop: crop spec maxMm must be a positive number/);
  });
});
