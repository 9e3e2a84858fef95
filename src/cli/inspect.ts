/**
 * `lens inspect <dicom-dir>`: the series found, which one is selected and why the others were not, and the
 * geometry of the selected series' volume. Every failure is a UserError (one line, non-zero exit).
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { DicomDecodeError } from '../dicom/decode';
import { FolderError, loadSelectedVolume, summariseUnreadable, type LoadedVolume } from '../dicom/load-folder';
import { SelectionError, type SeriesSelection } from '../dicom/select-series';
import { describeSeries } from '../dicom/series';
import { VolumeError } from '../dicom/volume-error';
import { UserError } from './errors';

interface InspectOptions {
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('list the DICOM series in a folder, which one would be analysed and why, and its volume geometry')
    .argument('<dicom-dir>', 'folder (searched recursively) or single file of DICOM Part 10 instances')
    .option('--json', 'print a JSON report on stdout')
    .action(async (dir: string, opts: InspectOptions, cmd: Command) => {
      const cfg = loadConfig({ file: cmd.optsWithGlobals().config });
      let loaded: LoadedVolume;
      try {
        loaded = await loadSelectedVolume(dir, cfg.selection);
      } catch (e) {
        if (e instanceof SelectionError) {
          if (opts.json) process.stdout.write(`${JSON.stringify({ selected: null, ...selectionJson(e.selection) }, null, 2)}\n`);
          else process.stdout.write(selectionText(e.selection));
          throw new UserError(`no CT series in ${dir} can be analysed (see the reasons above)`);
        }
        if (e instanceof FolderError || e instanceof VolumeError || e instanceof DicomDecodeError) throw new UserError(e.message);
        throw e;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(reportJson(loaded), null, 2)}\n`);
      else process.stdout.write(reportText(loaded));
    });
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

function reportJson(l: LoadedVolume) {
  const v = l.volume;
  const s = l.series;
  return {
    selected: {
      studyInstanceUID: s.studyInstanceUID,
      seriesInstanceUID: s.seriesInstanceUID,
      seriesNumber: s.seriesNumber,
      seriesDescription: s.seriesDescription,
      convolutionKernel: s.instances[0]?.convolutionKernel,
      instances: s.instances.length,
      transferSyntaxes: [...new Set(s.instances.map((i) => i.transferSyntaxUID))],
    },
    ...selectionJson(l.selection),
    volume: {
      dims: v.dims,
      spacing: r3(v.spacing),
      origin: r3(v.origin),
      direction: { row: r3(v.direction.row), column: r3(v.direction.column), normal: r3(v.direction.normal) },
      huRange: huRange(v.data),
      frameOfReferenceUID: v.frameOfReferenceUID,
    },
    notes: l.notes,
    unreadable: l.unreadable,
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

function reportText(l: LoadedVolume): string {
  const v = l.volume;
  const j = reportJson(l);
  const lines = [
    selectionText(l.selection).trimEnd(),
    '',
    'Volume:',
    `  dimensions   ${v.dims.join(' x ')} (columns x rows x slices)`,
    `  spacing      ${j.volume.spacing.join(' x ')} mm`,
    `  origin       [${j.volume.origin.join(', ')}] mm (LPS)`,
    `  orientation  row [${j.volume.direction.row.join(', ')}], column [${j.volume.direction.column.join(', ')}], normal [${j.volume.direction.normal.join(', ')}]`,
    `  HU range     ${j.volume.huRange[0]} .. ${j.volume.huRange[1]}`,
    `  transfer syntax ${j.selected.transferSyntaxes.join(', ')}`,
  ];
  for (const n of l.notes) lines.push(`Note: ${n}`);
  if (l.unreadable.length) lines.push(`Skipped ${summariseUnreadable(l.unreadable)}`);
  return `${lines.join('\n')}\n`;
}
