/**
 * Copies of the shipped model under another version, for tests of model versions, the registry and the reload:
 * the shipped manifest (its proposal classifier made absolute, since the copy lives elsewhere) and either the
 * shipped ONNX graph or other bytes (`onnx`: a model that is only hashed, or one that must fail to load).
 */
import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../../src/detect/load-manifest';

const shipped = path.resolve(__dirname, '../../models/lens-ulb');

export function shippedModelCopy(dir: string, version: string, onnx?: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const { manifestPath, onnxPath } = readManifest(shipped);
  const raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  if (typeof raw.proposalClassifier === 'string') raw.proposalClassifier = path.resolve(shipped, raw.proposalClassifier);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...raw, version, file: 'model.onnx' }));
  if (onnx === undefined) fs.copyFileSync(onnxPath, path.join(dir, 'model.onnx'));
  else fs.writeFileSync(path.join(dir, 'model.onnx'), onnx);
  return dir;
}
