/**
 * `lens inspect <dicom-dir>`: the series found, which one is selected and why the others were not, what real-world
 * DICOM was tolerated to use it, and the geometry of the selected series' volume. Every failure is a UserError (one
 * line, non-zero exit).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { DicomDecodeError } from '../dicom/decode';
import type { SelectionRules } from '../config/schema';
import { planGeometry, volumeGeometry } from '../dicom/geometry';
import {
  assertSomethingReadable,
  FolderError,
  loadSelectedVolume,
  scanDicomFolder,
  summariseUnreadable,
  type LoadedVolume,
  type UnreadableFile,
} from '../dicom/load-folder';
import { SelectionError, selectSeries, type SeriesSelection } from '../dicom/select-series';
import { describeSeries, type SeriesInfo } from '../dicom/series';
import { exclusionSentence } from '../dicom/series-consistency';
import type { Exclusion } from '../dicom/volume';
import { VolumeError } from '../dicom/volume-error';
import { UserError } from './errors';

interface InspectOptions {
  json?: boolean;
  headers?: boolean;
}

/** What `lens inspect` reports, from the assembled volume or (--headers) from the headers alone. */
interface Inspection {
  series: SeriesInfo;
  selection: SeriesSelection;
  geometry: ReturnType<typeof volumeGeometry>;
  /** Absent with --headers: no pixel was decoded. */
  huRange?: [number, number];
  tolerated: string[];
  /** Instances of the selected series left out of the volume, with the reason (each also in `tolerated`). */
  excluded: Exclusion[];
  notes: string[];
  unreadable: UnreadableFile[];
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('list the DICOM series in a folder, which one would be analysed and why, what was tolerated, and its volume geometry')
    .argument('<dicom-dir>', 'folder (searched recursively) or single file of DICOM Part 10 instances')
    .option('--json', 'print a JSON report on stdout')
    .option('--headers', 'read headers only: selection, what was tolerated and the planned geometry, no pixel decoded (fast)')
    .action(async (dir: string, opts: InspectOptions, cmd: Command) => {
      const cfg = loadConfig({ file: cmd.optsWithGlobals().config });
      let found: Inspection;
      try {
        found = opts.headers ? await inspectHeaders(dir, cfg.selection) : fromVolume(await loadSelectedVolume(dir, cfg.selection));
      } catch (e) {
        if (e instanceof SelectionError) {
          if (opts.json) process.stdout.write(`${JSON.stringify({ selected: null, ...selectionJson(e.selection) }, null, 2)}\n`);
          else process.stdout.write(selectionText(e.selection));
          throw new UserError(`no CT series in ${dir} can be analysed (see the reasons above)`);
        }
        if (e instanceof FolderError || e instanceof VolumeError || e instanceof DicomDecodeError) throw new UserError(e.message);
        throw e;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(reportJson(found), null, 2)}\n`);
      else process.stdout.write(reportText(found));
    });
}

function fromVolume(l: LoadedVolume): Inspection {
  const v = l.volume;
  return {
    series: l.series, selection: l.selection, geometry: v, huRange: huRange(v.data), tolerated: v.tolerated ?? [], excluded: v.excluded ?? [], notes: l.notes,
    unreadable: l.unreadable,
  };
}

/** Selection and planned geometry from the headers: what `lens detect` would analyse, without reading a pixel. */
async function inspectHeaders(dir: string, rules: SelectionRules): Promise<Inspection> {
  const scan = await scanDicomFolder(dir);
  assertSomethingReadable(scan, dir);
  const selection = selectSeries(scan.series, rules);
  if (!selection.selected) throw new SelectionError(selection);
  const plan = planGeometry(selection.selected);
  const copies = selection.selected.duplicates?.length;
  return {
    series: selection.selected,
    selection,
    geometry: volumeGeometry(plan),
    tolerated: selection.tolerated ?? [],
    excluded: selection.selected.excluded ?? [],
    notes: [...plan.notes, ...(copies ? [`${copies} file${copies === 1 ? ' repeats an instance' : 's repeat instances'} already read: pixels are compared when the volume is read (without --headers)`] : [])],
    unreadable: scan.unreadable,
  };
}

function huRange(data: Int16Array): [number, number] {
  let lo = 32767;
  let hi = -32768;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

const r3 = (v: number[]) => v.map((x) => Number(x.toFixed(4)));

function selectionJson(sel: SeriesSelection) {
  return {
    why: sel.why,
    ranked: sel.ranked.map((s) => s.seriesInstanceUID),
    rejected: sel.rejected.map((r) => ({
      seriesInstanceUID: r.series.seriesInstanceUID,
      seriesNumber: r.series.seriesNumber,
      seriesDescription: r.series.seriesDescription,
      modality: r.series.modality,
      instances: r.series.instances.length,
      reasons: r.reasons,
    })),
  };
}

function reportJson(f: Inspection) {
  const g = f.geometry;
  const s = f.series;
  return {
    selected: {
      studyInstanceUID: s.studyInstanceUID,
      seriesInstanceUID: s.seriesInstanceUID,
      seriesNumber: s.seriesNumber,
      seriesDescription: s.seriesDescription,
      convolutionKernel: s.instances[0]?.convolutionKernel,
      imageType: s.instances[0]?.imageType.join('\\'),
      instances: s.instances.length,
      transferSyntaxes: [...new Set(s.instances.map((i) => i.transferSyntaxUID))],
    },
    ...selectionJson(f.selection),
    volume: {
      dims: g.dims,
      spacing: r3(g.spacing),
      origin: r3(g.origin),
      direction: { row: r3(g.direction.row), column: r3(g.direction.column), normal: r3(g.direction.normal) },
      ...(f.huRange ? { huRange: f.huRange } : {}),
      frameOfReferenceUID: g.frameOfReferenceUID,
    },
    tolerated: f.tolerated,
    excluded: f.excluded,
    notes: f.notes,
    unreadable: f.unreadable,
  };
}

function selectionText(sel: SeriesSelection): string {
  const lines: string[] = [];
  if (sel.selected) lines.push(`Selected: ${sel.why}`);
  else lines.push('No series selected: none meets the selection rules.');
  for (const r of sel.rejected) {
    lines.push(`Not selected: ${describeSeries(r.series)}`);
    for (const reason of r.reasons) lines.push(`  - ${reason}`);
  }
  return `${lines.join('\n')}\n`;
}

function reportText(f: Inspection): string {
  const j = reportJson(f);
  const lines = [
    selectionText(f.selection).trimEnd(),
    '',
    f.huRange ? 'Volume:' : 'Volume (planned from the headers; no pixel decoded):',
    `  dimensions   ${j.volume.dims.join(' x ')} (columns x rows x slices)`,
    `  spacing      ${j.volume.spacing.join(' x ')} mm`,
    `  origin       [${j.volume.origin.join(', ')}] mm (LPS)`,
    `  orientation  row [${j.volume.direction.row.join(', ')}], column [${j.volume.direction.column.join(', ')}], normal [${j.volume.direction.normal.join(', ')}]`,
    ...(f.huRange ? [`  HU range     ${f.huRange[0]} .. ${f.huRange[1]}`] : []),
    `  transfer syntax ${j.selected.transferSyntaxes.join(', ')}`,
  ];
  // An exclusion is one of the tolerated sentences; said once, as what it is.
  const exclusions = new Set(f.excluded.map(exclusionSentence));
  for (const e of exclusions) lines.push(`Excluded: ${e.replace(/^excluded /, '')}`);
  for (const t of f.tolerated) if (!exclusions.has(t)) lines.push(`Tolerated: ${t}`);
  for (const n of f.notes) lines.push(`Note: ${n}`);
  if (f.unreadable.length) lines.push(`Skipped ${summariseUnreadable(f.unreadable)}`);
  return `${lines.join('\n')}\n`;
}
