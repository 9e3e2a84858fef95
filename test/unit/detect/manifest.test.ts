import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkManifestAgainstGraph, ModelError, parseManifest, readManifest } from '../../../src/detect/load-manifest';

const valid = {
  name: 'lens-ulb',
  version: '1.0.0',
  file: 'model.onnx',
  input: { name: 'input', slices: 3, sliceIntervalMm: 2, sliceStrideMm: 2.5, pixelSpacingMm: 1.5, huWindow: [-1024, 1024], sizeMultiple: 16 },
  output: {
    format: 'centernet',
    stride: 4,
    heads: [{ name: 'universal', heatmap: 'universal_heatmap', size: 'universal_size', offset: 'universal_offset', classes: ['lung_nodule', 'liver_lesion'], scoreThreshold: 0.3 }],
    mask: 'mask',
  },
  lesionTypes: ['lung_nodule', 'liver_lesion'],
};

const graph = {
  inputs: [{ name: 'input', shape: ['N', 3, 'H', 'W'] }],
  outputs: [
    { name: 'universal_heatmap', shape: ['N', 2, 'h', 'w'] },
    { name: 'universal_size', shape: ['N', 2, 'h', 'w'] },
    { name: 'universal_offset', shape: ['N', 2, 'h', 'w'] },
    { name: 'mask', shape: ['N', 1, 'h', 'w'] },
  ],
};

describe('model manifest', () => {
  it('accepts a valid manifest and a matching graph', () => {
    const m = parseManifest(valid);
    expect(checkManifestAgainstGraph(m, graph)).toEqual([]);
  });

  it('names each invalid field', () => {
    const bad = { ...valid, input: { ...valid.input, slices: 4, huWindow: [100, -100] }, output: { ...valid.output, heads: [{ ...valid.output.heads[0], classes: ['tumour'] }] } };
    expect(() => parseManifest(bad)).toThrow(ModelError);
    try {
      parseManifest(bad);
    } catch (e) {
      expect((e as Error).message).toMatch(/input\.slices: must be odd/);
      expect((e as Error).message).toMatch(/input\.huWindow: high must exceed low/);
      expect((e as Error).message).toMatch(/output\.heads\.0\.classes\.0/);
    }
  });

  it('accepts a calibration of its heads before fusion and refuses one naming another head', () => {
    const fusion = { method: 'weighted-box-fusion', iouThreshold: 0.55, calibration: { universal: { a: 0.8, b: -0.3 } } };
    expect(parseManifest({ ...valid, output: { ...valid.output, fusion } }).output.fusion?.calibration).toEqual({ universal: { a: 0.8, b: -0.3 } });
    const other = { ...fusion, calibration: { luna: { a: 1, b: 0 } } };
    expect(() => parseManifest({ ...valid, output: { ...valid.output, fusion: other } })).toThrow(/output\.fusion\.calibration\.luna: calibrates no head of this manifest \(heads: universal\)/);
  });

  it('reports every mismatch with the graph by name', () => {
    const m = parseManifest({ ...valid, input: { ...valid.input, name: 'image', slices: 5 } });
    const problems = checkManifestAgainstGraph(m, {
      inputs: graph.inputs,
      outputs: [{ name: 'universal_heatmap', shape: ['N', 6, 'h', 'w'] }, graph.outputs[1], graph.outputs[2]],
    });
    expect(problems).toEqual([
      'manifest input "image" is not in the graph (graph inputs: input)',
      'head "universal" heatmap "universal_heatmap" has 6 channels, the manifest implies 2 channels',
      'mask output "mask" is not in the graph (graph outputs: universal_heatmap, universal_size, universal_offset)',
    ]);
    const m5 = parseManifest({ ...valid, input: { ...valid.input, slices: 5 } });
    expect(checkManifestAgainstGraph(m5, graph)).toEqual(['input "input" has 3 channels, the manifest implies 5 slices']);
  });

  it('readManifest: missing folder, bad JSON and missing ONNX file are clear errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-manifest-'));
    try {
      expect(() => readManifest(dir)).toThrow(/no model manifest at .*model\.json/);
      fs.writeFileSync(path.join(dir, 'model.json'), '{');
      expect(() => readManifest(dir)).toThrow(/not valid JSON/);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(valid));
      expect(() => readManifest(dir)).toThrow(/model\.onnx named by .* does not exist/);
      fs.writeFileSync(path.join(dir, 'model.onnx'), '');
      expect(readManifest(dir).manifest.name).toBe('lens-ulb');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
