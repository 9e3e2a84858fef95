/**
 * A study in the PACS -> the volume to analyse: the same steps as loading a folder (src/dicom/load-folder.ts), with
 * WADO-RS metadata instead of file headers and WADO-RS frames instead of file pixel data, so that a study gives the
 * same selection and the same voxels from either source.
 */
import type { SelectionRules } from '../config/schema';
import { assembleVolume, type AssembleOptions } from '../dicom/assemble-volume';
import { headerFromDataset, type InstanceHeader } from '../dicom/instance-header';
import { groupBySeries, type SeriesInfo } from '../dicom/series';
import { SelectionError, selectSeries, type SeriesSelection } from '../dicom/select-series';
import type { Volume } from '../dicom/volume';
import { log } from '../log';
import type { DicomJson, DicomWebClient } from './dicomweb';

export interface PacsSeriesLoad {
  volume: Volume;
  selection: SeriesSelection;
  series: SeriesInfo;
  /** Naturalized metadata of the volume's first slice, without bulk data: patient/study modules for SR/SEG. */
  firstDataset: Record<string, any>;
  /** Instances whose metadata could not be read as an image header, with the reason. */
  unreadable: { sopInstanceUID?: string; reason: string }[];
  /** Notes of the volume assembly (resampling, tilt), as loadSelectedVolume gives them. */
  notes: string[];
}

const tagValue = (ds: DicomJson, tag: string) => ds[tag]?.Value?.[0] as string | undefined;

/**
 * Loads the selected series of a study. With `seriesUID` only that series is considered (and must pass the
 * rules); without it every series of the study is a candidate. Metadata is fetched only for series whose QIDO
 * Modality matches the rules; the others are rejected by modality without a metadata request.
 * Throws SelectionError (carrying every series' reasons) when no series qualifies.
 */
export async function loadSeriesFromPacs(
  client: DicomWebClient,
  studyUID: string,
  seriesUID: string | undefined,
  rules: SelectionRules,
  opts: Pick<AssembleOptions, 'onNote'> = {},
): Promise<PacsSeriesLoad> {
  const wanted = seriesUID ? [{ uid: seriesUID, modality: undefined as string | undefined }] : await listSeries(client, studyUID);
  const modality = rules.modality.toUpperCase();
  const headers: InstanceHeader[] = [];
  const stubs: SeriesInfo[] = [];
  const unreadable: PacsSeriesLoad['unreadable'] = [];
  const datasets = new Map<string, Record<string, any>>();
  for (const s of wanted) {
    if (s.modality !== undefined && s.modality.toUpperCase() !== modality) {
      stubs.push({ studyInstanceUID: studyUID, seriesInstanceUID: s.uid, modality: s.modality, instances: [] });
      continue;
    }
    for (const ds of await client.retrieveSeriesMetadata(studyUID, s.uid)) {
      try {
        const h = headerFromDataset(ds);
        headers.push(h);
        datasets.set(h.sopInstanceUID, ds);
      } catch (e) {
        unreadable.push({ sopInstanceUID: typeof ds.SOPInstanceUID === 'string' ? ds.SOPInstanceUID : undefined, reason: (e as Error).message });
      }
    }
  }
  if (unreadable.length) log.warn('instances with unreadable metadata skipped', { studyInstanceUID: studyUID, count: unreadable.length, first: unreadable[0] });

  const selection = selectSeries([...groupBySeries(headers), ...stubs], rules);
  const series = selection.selected;
  if (!series) throw new SelectionError(selection);
  const bySop = new Map(series.instances.map((h) => [h.sopInstanceUID, h]));
  const notes: string[] = [];
  const volume = await assembleVolume(
    series,
    (sop, frame) => client.retrieveFrame(studyUID, series.seriesInstanceUID, sop, frame, bySop.get(sop)!),
    {
      concurrency: client.frameConcurrency,
      onNote: (n) => {
        notes.push(n);
        opts.onNote?.(n);
      },
    },
  );
  const firstDataset = withoutBulkData(datasets.get(volume.slices[0].sopInstanceUID) ?? {});
  return { volume, selection, series, firstDataset, unreadable, notes };
}

async function listSeries(client: DicomWebClient, studyUID: string): Promise<{ uid: string; modality?: string }[]> {
  const found = await client.searchSeries(studyUID, {}, { all: true });
  return found
    .map((s) => ({ uid: tagValue(s, '0020000E') ?? '', modality: tagValue(s, '00080060') ?? '' }))
    .filter((s) => s.uid);
}

/** A copy without PixelData and without attributes whose value is only a bulk data reference. */
function withoutBulkData(ds: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(ds)) {
    if (k === 'PixelData' || k === 'FloatPixelData' || k === 'DoubleFloatPixelData') continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && ('BulkDataURI' in v || 'InlineBinary' in v)) continue;
    out[k] = v;
  }
  return out;
}
