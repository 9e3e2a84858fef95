/**
 * Every variant of SR and SEG the product can write passes dciodvfy (no line with "Error") and dsrdump reads the SR
 * tree: no lesion, model masks only, box-fitted only, mixed, many lesions, model names and versions longer than any
 * LO, notes on what the source series needed tolerated; on synthetic volumes and on the real lung-dx-a0001 (both
 * series), whose mixed SEG once carried a 67-character ContentDescription.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildReportObjects, toleratedComment, writeReportFiles, writeReportObjects } from '../../../src/report';
import { analysedComment } from '../../../src/report/inputs';
import { fromPart10 } from '../../../src/report/part10';
import type { Findings } from '../../../src/detect/findings';
import type { Volume } from '../../../src/dicom/volume';
import type { LesionMask } from '../../../src/detect/lesions';
import { LUNG_SERIES2, LUNG_SERIES3, dciodvfy, dsrdump, loadLungCase, modelMasks, syntheticFindings } from './fixtures';
import { smallVolume } from '../../unit/report/small-volume';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-report-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type MaskKind = 'box-fitted' | 'model' | 'mixed';

/** Longer than any LO (64): every description, equipment and algorithm attribute holding them must be shortened. */
const LONG_MODEL = {
  name: `lens-ulb-${'resnet50-fpn-'.repeat(8)}ct`,
  version: `0.1.0+${'build.20261201.'.repeat(5)}sha.9f8e7d6c5b4a`,
  executionProvider: 'cpu',
};
/** What the volume's assembly may record (Volume.tolerated); a backslash and a long sentence included. */
const TOLERATED = [
  'slice thickness 8 mm, more than the usual 5 mm: small nodules may be missed',
  'ImageType ORIGINAL\\PRIMARY has two values; the third (AXIAL) is assumed',
  `every instance carries its own FrameOfReferenceUID (${'de-identification '.repeat(6)}); one volume by geometry`,
];

function masksFor(volume: Volume, findings: Findings, kind: MaskKind): Map<number, LesionMask> | undefined {
  const ids = findings.lesions.map((l) => l.id);
  if (kind === 'box-fitted') return undefined;
  // Mixed: the first lesion (the tumour on real CT) has the model's mask, the others are box-fitted.
  return modelMasks(volume, findings, kind === 'model' ? ids : ids.slice(0, 1));
}

async function checkObjects(name: string, findings: Findings, volume: Volume, sourceDataset: Record<string, any>, masks?: Map<number, LesionMask>) {
  const dir = path.join(tmp, name);
  const { files } = await writeReportFiles({ findings, masks }, volume, sourceDataset, dir);
  expect(files.map((f) => path.basename(f))).toEqual(findings.lesions.length ? ['sr.dcm', 'seg.dcm'] : ['sr.dcm']);
  for (const f of files) {
    const v = dciodvfy(f);
    expect({ file: path.basename(f), errors: v.errors }).toEqual({ file: path.basename(f), errors: [] });
    // dciodvfy recognised the IOD it checked.
    expect(v.output).toMatch(path.basename(f) === 'sr.dcm' ? /Comprehensive3DSR/ : /Segmentation/);
  }
  const dump = dsrdump(path.join(dir, 'sr.dcm'), ['+Pl']);
  expect(dump.exitCode).toBe(0);
  expect(dump.output).not.toMatch(/^E:/m);
  expect(dump.output).toContain('Imaging Measurement Report');
  const groups = dump.output.match(/CONTAINER:\(,,"Measurement Group"\)/g) ?? [];
  expect(groups).toHaveLength(findings.lesions.length);
  for (const note of volume.tolerated ?? []) expect(dump.output).toContain(`TEXT:(,,"Comment")="${toleratedComment(note)}"`);
  const seg = files.length > 1 ? fromPart10(fs.readFileSync(path.join(dir, 'seg.dcm'))) : undefined;
  return { tree: dump.output, seg };
}

const maskWords: Record<MaskKind, string> = { 'box-fitted': 'box-fitted ellipsoid', model: 'model mask', mixed: 'model mask + box-fitted ellipsoid' };

describe('synthetic volume', () => {
  const small = smallVolume({ cols: 64, rows: 48, slices: 24, seed: 'validity' });
  const variants: { name: string; lesions: number; masks: MaskKind; long?: boolean; tolerated?: boolean }[] = [
    { name: 'no lesion', lesions: 0, masks: 'box-fitted' },
    { name: 'no lesion, tolerated notes', lesions: 0, masks: 'box-fitted', tolerated: true },
    { name: 'no lesion, long model name and version', lesions: 0, masks: 'box-fitted', long: true },
    { name: 'one lesion, box-fitted', lesions: 1, masks: 'box-fitted' },
    { name: 'three lesions, model masks only', lesions: 3, masks: 'model' },
    { name: 'three lesions, box-fitted only', lesions: 3, masks: 'box-fitted' },
    { name: 'three lesions, mixed', lesions: 3, masks: 'mixed' },
    { name: 'three lesions, mixed, long model name and version', lesions: 3, masks: 'mixed', long: true },
    { name: 'three lesions, model masks, tolerated notes', lesions: 3, masks: 'model', tolerated: true },
    { name: 'three lesions, mixed, long model, tolerated notes', lesions: 3, masks: 'mixed', long: true, tolerated: true },
    { name: '50 lesions, mixed', lesions: 50, masks: 'mixed' },
  ];
  test.each(variants)('$name', async (v) => {
    const volume: Volume = v.tolerated ? { ...small.volume, tolerated: TOLERATED } : small.volume;
    const base = syntheticFindings(volume, v.lesions);
    const findings = v.long ? { ...base, model: LONG_MODEL } : base;
    const { tree, seg } = await checkObjects(v.name.replace(/\W+/g, '-'), findings, volume, small.sourceDataset, masksFor(volume, findings, v.masks));
    if (v.lesions === 0) expect(tree).toContain('No lesion detected');
    if (v.lesions === 0 && !v.tolerated) expect(tree).not.toContain('Tolerated in the source series');
    if (seg) {
      expect(seg.SegmentSequence).toHaveLength(v.lesions);
      expect(seg.ContentDescription).toContain(maskWords[v.masks]);
      if (!v.long) expect(seg.SeriesDescription).toBe(`LENS lesions, ${maskWords[v.masks]} (lens-ulb 0.1.0)`);
      // A shortened text says so.
      if (v.long) expect(seg.SeriesDescription).toMatch(/\.\.\.$/);
    }
  });

  test('a re-analysis: the SR names the series and slices analysed and the SR it supersedes; other UIDs than the first', async () => {
    const findings = syntheticFindings(small.volume, 2);
    const predecessor = { seriesInstanceUID: '2.25.1001', sopInstanceUID: '2.25.1002' };
    const objects = buildReportObjects({
      findings, volume: small.volume, sourceDataset: small.sourceDataset,
      analysis: { instancesDigest: '0123456789abcdef', predecessors: [predecessor] },
    });
    const dir = path.join(tmp, 'reanalysis');
    const files = await writeReportObjects(objects, dir);
    for (const f of files) expect({ file: path.basename(f), errors: dciodvfy(f).errors }).toEqual({ file: path.basename(f), errors: [] });
    const dump = dsrdump(path.join(dir, 'sr.dcm'), ['+Pl']);
    expect(dump.exitCode).toBe(0);
    expect(dump.output).toContain(`TEXT:(,,"Comment")="${analysedComment(small.volume, Number(small.sourceDataset.SeriesNumber) || undefined)}"`);
    expect(dump.output).toContain(`, ${small.volume.slices.length} slices`);
    const sr = fromPart10(fs.readFileSync(path.join(dir, 'sr.dcm')));
    const refs = [sr.PredecessorDocumentsSequence].flat()[0];
    expect(refs.StudyInstanceUID).toBe(small.volume.studyInstanceUID);
    expect([refs.ReferencedSeriesSequence].flat()[0]).toMatchObject({ SeriesInstanceUID: predecessor.seriesInstanceUID });
    expect([[refs.ReferencedSeriesSequence].flat()[0].ReferencedSOPSequence].flat()[0].ReferencedSOPInstanceUID).toBe(predecessor.sopInstanceUID);
    // Another instance set of the same series: other UIDs (never the same UID for other content).
    const first = buildReportObjects({ findings, volume: small.volume, sourceDataset: small.sourceDataset });
    expect(first.map((o) => o.sopInstanceUID)).not.toContain(objects[0].sopInstanceUID);
  });
});

describe.each([
  ['series 2', LUNG_SERIES2],
  ['series 3', LUNG_SERIES3],
])('lung-dx-a0001 %s, one finding around the tumour', (_label, seriesDir) => {
  let lung: Awaited<ReturnType<typeof loadLungCase>>;
  beforeAll(async () => {
    lung = await loadLungCase(seriesDir);
  });

  test.each<MaskKind>(['box-fitted', 'model', 'mixed'])('%s masks', async (kind) => {
    // Mixed needs a lesion without a mask: two synthetic findings elsewhere in the series join the tumour.
    const extra = kind === 'mixed' ? syntheticFindings(lung.volume, 2, 7).lesions.map((l, i) => ({ ...l, id: i + 2 })) : [];
    const findings = { ...lung.findings, lesions: [...lung.findings.lesions, ...extra] };
    const { tree, seg } = await checkObjects(`lung-${path.basename(seriesDir)}-${kind}`, findings, lung.volume, lung.sourceDataset, masksFor(lung.volume, findings, kind));
    expect(tree).toContain('Lesion 1 (lung nodule)');
    expect(tree).toContain('(39607008,SCT,"Lung structure")');
    expect(seg!.ContentDescription).toBe(`Lesions: ${maskWords[kind]} by lens-ulb 0.1.0`);
  });

  test('mixed masks, tolerated notes and a long model name', async () => {
    const volume: Volume = { ...lung.volume, tolerated: TOLERATED };
    const extra = syntheticFindings(volume, 2, 7).lesions.map((l, i) => ({ ...l, id: i + 2 }));
    const findings = { ...lung.findings, model: LONG_MODEL, lesions: [...lung.findings.lesions, ...extra] };
    const { seg } = await checkObjects(`lung-${path.basename(seriesDir)}-long-tolerated`, findings, volume, lung.sourceDataset, masksFor(volume, findings, 'mixed'));
    expect(seg!.SegmentSequence).toHaveLength(3);
  });
});
