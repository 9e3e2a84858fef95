/**
 * `lens detect` on real CT (shared/data/ct, never copied): the shipped model must report the lung tumour of
 * lung-dx-a0001 (IoBB >= 0.3 with its truth.json) with at most one false finding above it, and at most 5 findings
 * (issue 10), its long axis within 25 % of the annotated extent. Runs the real command as a child process. lung-dx-a0001 is validation only: the model was neither
 * trained nor tuned on it (docs/model.md).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Findings, TruthFile } from '../../../src/detect/findings';
import { annotatedExtentMm, LONG_AXIS_TOLERANCE } from '../../../src/eval/measurement';
import { iobb } from '../../../src/eval/froc';

const repo = path.resolve(__dirname, '../../..');
const ct = path.resolve(repo, '../shared/data/ct');
const lung = path.join(ct, 'lung-dx-a0001');

function detect(dir: string, out: string): Findings {
  execFileSync(process.execPath, [path.join(repo, 'bin/lens.js'), 'detect', dir, '--out', out, '--no-report'], {
    cwd: repo,
    env: { ...process.env, LENS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(fs.readFileSync(path.join(out, 'findings.json'), 'utf8')) as Findings;
}

describe('lens detect on real CT', () => {
  let out: string;
  beforeAll(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-detect-real-'));
  });
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('finds the lung-dx-a0001 tumour (IoBB >= 0.3) and writes a findings.json per docs/contracts.md#findings', () => {
    const truth = JSON.parse(fs.readFileSync(path.join(lung, 'truth.json'), 'utf8')) as TruthFile;
    const tumour = truth.studies[0].lesions[0].bboxLPS;
    const f = detect(lung, path.join(out, 'lung'));
    expect(f.studyInstanceUID).toBe(truth.studies[0].studyInstanceUID);
    expect(truth.studies[0].seriesInstanceUIDs).toContain(f.seriesInstanceUID);
    expect(f.model.executionProvider).toBe('cpu');
    expect(Object.keys(f.timingsMs)).toEqual(expect.arrayContaining(['load', 'preprocess', 'inference', 'postprocess']));
    const hits = f.lesions.filter((l) => iobb(l.bboxLPS, tumour) >= 0.3);
    // eslint-disable-next-line no-console
    const rank = f.lesions.findIndex((l) => iobb(l.bboxLPS, tumour) >= 0.3) + 1; // findings are in descending score order
    console.log(`lung-dx-a0001: ${f.lesions.length} findings, ${hits.length} on the tumour (best IoBB ${Math.max(0, ...f.lesions.map((l) => iobb(l.bboxLPS, tumour))).toFixed(2)}, first at rank ${rank}), ${f.lesions.length - hits.length} others`);
    expect(hits.length).toBeGreaterThan(0);
    // lens-ulb 0.5.0 (stages 5-6b, real anatomy in training; docs/model.md): the issue-10 rule for a real study, at most
    // one false finding scoring higher than the tumour and at most 5 findings reported.
    expect(rank).toBeGreaterThanOrEqual(1);
    expect(rank).toBeLessThanOrEqual(2);
    expect(f.lesions.length).toBeLessThanOrEqual(5);
    // Its long axis within 25 % of the annotated extent (issue 10; the box rule chosen on validation data, not here).
    const annotated = annotatedExtentMm(truth.studies[0].lesions[0]);
    expect(Math.abs(f.lesions[rank - 1].longAxisMm - annotated) / annotated).toBeLessThanOrEqual(LONG_AXIS_TOLERANCE);
    for (const l of f.lesions) {
      expect(l.bboxLPS[3]).toBeGreaterThan(l.bboxLPS[0]);
      expect(l.bboxLPS[5]).toBeGreaterThan(l.bboxLPS[2]);
      expect(l.trackingUid).toMatch(/^2\.25\.\d+$/);
      expect(l.longAxisMm).toBeGreaterThanOrEqual(l.shortAxisMm);
    }
  });
});
