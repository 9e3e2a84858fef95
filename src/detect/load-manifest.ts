/**
 * Reads and validates models/<name>/model.json against the ModelManifest contract (manifest.ts). Every problem is
 * reported with the path of the offending field, so a broken manifest never surfaces as a shape error at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LESION_TYPES } from './findings';
import type { ModelManifest } from './manifest';
import { TEST_TIME_AUGMENTATIONS } from './test-time-augmentation';
import { LensError } from '../errors';

export class ModelError extends LensError {
  constructor(message: string) {
    super(message, 'model-invalid');
  }
}

const lesionType = z.enum(LESION_TYPES);

const headSchema = z.object({
  name: z.string().min(1),
  heatmap: z.string().min(1),
  size: z.string().min(1),
  offset: z.string().min(1),
  classes: z.array(lesionType).min(1),
  scoreThreshold: z.number().min(0).max(1),
});

export const manifestSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    file: z.string().min(1),
    description: z.string().optional(),
    input: z.object({
      name: z.string().min(1),
      slices: z.number().int().positive().refine((n) => n % 2 === 1, 'must be odd (2k+1)'),
      sliceIntervalMm: z.number().positive(),
      sliceStrideMm: z.number().positive().optional(),
      pixelSpacingMm: z.number().positive(),
      huWindow: z.tuple([z.number(), z.number()]).refine(([lo, hi]) => hi > lo, 'high must exceed low'),
      sizeMultiple: z.number().int().positive(),
    }),
    output: z.object({
      format: z.literal('centernet'),
      stride: z.number().int().positive(),
      heads: z.array(headSchema).min(1),
      mask: z.string().min(1).optional(),
      lesionScoreThreshold: z.number().min(0).max(1).optional(),
      fusion: z
        .object({
          method: z.literal('weighted-box-fusion'),
          iouThreshold: z.number().gt(0).max(1),
          calibration: z.record(z.object({ a: z.number().positive(), b: z.number() }).strict()).optional(),
        })
        .strict()
        .optional(),
      testTimeAugmentation: z
        .array(z.enum(TEST_TIME_AUGMENTATIONS))
        .refine((a) => new Set(a).size === a.length, 'lists an augmentation twice')
        .optional(),
    }),
    lesionTypes: z.array(lesionType).min(1),
    training: z.record(z.unknown()).optional(),
    evaluation: z.record(z.unknown()).optional(),
  })
  .passthrough()
  .superRefine((m, ctx) => {
    const names = m.output.heads.map((h) => h.name);
    if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', path: ['output', 'heads'], message: `duplicate head names: ${names.join(', ')}` });
    for (const h of Object.keys(m.output.fusion?.calibration ?? {}))
      if (!names.includes(h)) ctx.addIssue({ code: 'custom', path: ['output', 'fusion', 'calibration', h], message: `calibrates no head of this manifest (heads: ${names.join(', ')})` });
    if (m.input.sizeMultiple % m.output.stride !== 0)
      ctx.addIssue({ code: 'custom', path: ['input', 'sizeMultiple'], message: `must be a multiple of output.stride (${m.output.stride})` });
  });

export function parseManifest(raw: unknown, where = 'model.json'): ModelManifest {
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ModelError(`invalid model manifest ${where}:\n${lines.join('\n')}`);
  }
  return r.data as ModelManifest;
}

/** Reads <dir>/model.json; returns the manifest and the absolute path of its ONNX file (which must exist). */
export function readManifest(dir: string): { manifest: ModelManifest; manifestPath: string; onnxPath: string } {
  const manifestPath = path.resolve(dir, 'model.json');
  let text: string;
  try {
    text = fs.readFileSync(manifestPath, 'utf8');
  } catch {
    throw new ModelError(`no model manifest at ${manifestPath} (config model.dir = ${dir})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`model manifest ${manifestPath} is not valid JSON: ${(e as Error).message}`);
  }
  const manifest = parseManifest(raw, manifestPath);
  const onnxPath = path.resolve(path.dirname(manifestPath), manifest.file);
  if (!fs.existsSync(onnxPath)) throw new ModelError(`model file ${onnxPath} named by ${manifestPath} does not exist`);
  return { manifest, manifestPath, onnxPath };
}

/** A graph value as onnxruntime reports it: name and, when declared, shape (numbers or symbolic names). */
export interface GraphValue {
  name: string;
  shape?: readonly (number | string)[];
}

/**
 * Compares the manifest with the graph: the input name and channel count, every head's heatmap/size/offset and the
 * mask by name, and their channel counts where the graph declares them. Returns the mismatches; empty when they agree.
 */
export function checkManifestAgainstGraph(m: ModelManifest, graph: { inputs: readonly GraphValue[]; outputs: readonly GraphValue[] }): string[] {
  const problems: string[] = [];
  const list = (vs: readonly GraphValue[]) => vs.map((v) => v.name).join(', ') || 'none';
  if (graph.inputs.length !== 1) problems.push(`the graph has ${graph.inputs.length} inputs (${list(graph.inputs)}); exactly one is supported`);
  const input = graph.inputs.find((v) => v.name === m.input.name);
  if (!input) problems.push(`manifest input "${m.input.name}" is not in the graph (graph inputs: ${list(graph.inputs)})`);
  else checkDims(input, 4, m.input.slices, `input "${m.input.name}"`, `${m.input.slices} slices`, problems);
  const want: [string, number, string][] = [];
  for (const h of m.output.heads) {
    want.push([h.heatmap, h.classes.length, `head "${h.name}" heatmap`], [h.size, 2, `head "${h.name}" size`], [h.offset, 2, `head "${h.name}" offset`]);
  }
  if (m.output.mask) want.push([m.output.mask, 1, 'mask']);
  for (const [name, channels, what] of want) {
    const v = graph.outputs.find((o) => o.name === name);
    if (!v) problems.push(`${what} output "${name}" is not in the graph (graph outputs: ${list(graph.outputs)})`);
    else checkDims(v, 4, channels, `${what} "${name}"`, `${channels} channels`, problems);
  }
  return problems;
}

function checkDims(v: GraphValue, rank: number, channels: number, what: string, expected: string, problems: string[]): void {
  if (!v.shape || v.shape.length === 0) return;
  if (v.shape.length !== rank) problems.push(`${what} has rank ${v.shape.length}, expected ${rank} ([N, C, H, W])`);
  else if (typeof v.shape[1] === 'number' && v.shape[1] !== channels) problems.push(`${what} has ${v.shape[1]} channels, the manifest implies ${expected}`);
}
