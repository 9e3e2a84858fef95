/**
 * Stage "selected": what is in the study (the source's series list), which series to analyse (each candidate's
 * metadata, read once, + the selection rules), and whether the study needs analysis at all. Series of another
 * modality are rejected from the list alone, without reading their metadata. Skips, each with its reason:
 *   empty-study       the study has no series
 *   own-output        the study holds only our own SR/SEG; or it was analysed as it is (same key, below) and
 *                     holds our own SR/SEG (the re-announcement caused by storing them, or a re-send); or the same
 *                     CT was analysed by another model whose SR/SEG the study holds (such a re-announcement after a
 *                     promotion or rollback: the loaded model analyses new and changed studies, a re-run the rest)
 *   no-ct             no series of the configured modality
 *   no-suitable-series CT series exist but none passes the rules (e.g. only a scout), with each series' reasons
 *   already-analysed  the same key succeeded before: same study, series, instances and model version
 * A study whose key differs from its previous successful analysis by the same model (instances added, another
 * series preferred) is analysed again: the selection says why and which report the new one supersedes. The chosen
 * series' first instance also gives what the dashboard shows of the study (studyInfoOf; never in the journey).
 */
import type { SelectionRules } from '../config/schema';
import type { SeriesInfo } from '../dicom/series';
import type { Job, StudyInfo } from '../jobs/types';
import { log } from '../log';
import type { Dataset, SeriesMetadata, SeriesSummary, StudySource } from '../source/study-source';
import { SkipStudy } from './errors';
import { idempotencyKey, instanceSet, parseIdempotencyKey, reanalysisReason } from './idempotency';
import { splitOwnOutputs } from './own-outputs';
import type { ReceivedStudy, SelectedSeries, Stage } from './stages';

/** What the pipeline needs of src/dicom's SeriesSelection. */
export interface SeriesChoice {
  selected?: SeriesInfo;
  why: string;
  rejected: { series: SeriesInfo; reasons: string[] }[];
  /** What was tolerated about the selected series (missing ImageType, thick slices, ...). */
  tolerated?: string[];
}

export interface SelectDeps {
  modelVersion: string;
  rules: SelectionRules;
  source: Pick<StudySource, 'listSeries' | 'seriesMetadata'>;
  /** src/dicom selectSeries in the pipeline; a unit test may choose by its own rule. */
  selectSeries(series: SeriesInfo[], rules: SelectionRules): SeriesChoice;
  findSucceeded(key: string): Promise<Job | undefined>;
  /** The latest successful analyses of the study, newest first (none: every analysis is a first one). */
  succeededForStudy?(studyInstanceUID: string): Promise<Job[]>;
}

export function selectStage(d: SelectDeps): Stage<ReceivedStudy, SelectedSeries> {
  return {
    name: 'selected',
    describe: (s) => ({
      seriesInstanceUID: s.series.seriesInstanceUID,
      instances: s.series.instances.length,
      ...(s.metadata.unreadable.length ? { unreadableInstances: s.metadata.unreadable.length } : {}),
      why: s.why,
      rejected: s.rejected,
      modelVersion: s.modelVersion,
      ...(s.reanalysis ? { reanalysis: s.reanalysis } : {}),
    }),
    async run({ studyInstanceUID, force }) {
      const all = await d.source.listSeries(studyInstanceUID);
      if (all.length === 0) throw new SkipStudy('empty-study', `study ${studyInstanceUID} has no series`);
      const { own, others } = splitOwnOutputs(all);
      if (others.length === 0)
        throw new SkipStudy('own-output', `study holds only lens-pacs outputs: ${own.map((o) => o.why).join('; ')}`);
      const modality = d.rules.modality.toUpperCase();
      const rejected: SelectedSeries['rejected'] = [];
      const candidates: SeriesSummary[] = [];
      for (const s of others) {
        if ((s.modality ?? '').toUpperCase() === modality) candidates.push(s);
        else rejected.push({ seriesInstanceUID: s.seriesInstanceUID, reasons: [`modality ${s.modality || '(none)'} is not ${modality}`] });
      }
      if (candidates.length === 0)
        throw new SkipStudy('no-ct', `no ${modality} series in the study (${others.map((s) => s.modality || '(none)').join(', ')})`);
      // One metadata read per candidate; the chosen series' metadata travels on to the fetch stage.
      const metadata = new Map<string, SeriesMetadata>();
      for (const c of candidates) {
        const m = await d.source.seriesMetadata(studyInstanceUID, c.seriesInstanceUID);
        if (m.unreadable.length)
          log.warn('instances with unreadable metadata left out', {
            studyInstanceUID, seriesInstanceUID: c.seriesInstanceUID, count: m.unreadable.length, firstReason: m.unreadable[0].reason,
          });
        metadata.set(m.series.seriesInstanceUID, m);
      }
      const choice = d.selectSeries([...metadata.values()].map((m) => m.series), d.rules);
      for (const r of choice.rejected) rejected.push({ seriesInstanceUID: r.series.seriesInstanceUID, reasons: r.reasons });
      if (!choice.selected) {
        const detail = choice.rejected.map((r) => `${r.series.seriesInstanceUID}: ${r.reasons.join(', ')}`).join('; ');
        throw new SkipStudy('no-suitable-series', `no ${modality} series suitable for detection: ${detail || choice.why}`);
      }
      const chosen = choice.selected;
      const instances = instanceSet(chosen.instances.map((i) => i.sopInstanceUID));
      const key = idempotencyKey(studyInstanceUID, chosen.seriesInstanceUID, instances, d.modelVersion);
      const same = `series ${chosen.seriesInstanceUID}, same ${instances.count} instances, same model ${d.modelVersion}`;
      if (!force) {
        const prev = await d.findSucceeded(key);
        if (prev && own.length)
          throw new SkipStudy(
            'own-output',
            `already analysed: ${same} (job ${prev.id}); the study also holds lens-pacs's own outputs (${own.map((o) => `${o.series.modality} ${o.series.seriesInstanceUID}`).join(', ')})`,
          );
        if (prev) throw new SkipStudy('already-analysed', `already analysed: ${same} (job ${prev.id})`);
        const byOther = await analysedByAnotherModel(d, key, own.map((o) => o.series.seriesInstanceUID));
        if (byOther)
          throw new SkipStudy(
            'own-output',
            `already analysed by ${byOther.modelVersion} (job ${byOther.id}): series ${chosen.seriesInstanceUID}, same ${instances.count} instances, its report in the study; the loaded model ${d.modelVersion} analyses new and changed studies (a re-run analyses this one again)`,
          );
      }
      const reanalysis = await previousAnalysis(d, studyInstanceUID, key);
      const chosenMetadata = metadata.get(chosen.seriesInstanceUID);
      if (!chosenMetadata) throw new Error(`selectSeries chose series ${chosen.seriesInstanceUID}, which is not a candidate`);
      const study = studyInfoOf(chosen, await firstDataset(chosenMetadata, studyInstanceUID));
      return {
        study,
        studyInstanceUID, series: chosen, metadata: chosenMetadata, why: choice.why, tolerated: choice.tolerated ?? [],
        modelVersion: d.modelVersion, idempotencyKey: key, instances, rejected, ...(reanalysis ? { reanalysis } : {}),
      };
    },
  };
}

/** A successful analysis of the same CT (key but for the model) by another model, whose SR or SEG the study holds. */
async function analysedByAnotherModel(d: SelectDeps, key: string, ownSeries: string[]): Promise<Job | undefined> {
  if (!ownSeries.length) return undefined;
  const now = parseIdempotencyKey(key)!;
  return ((await d.succeededForStudy?.(now.study)) ?? []).find((j) => {
    const k = j.idempotencyKey ? parseIdempotencyKey(j.idempotencyKey) : undefined;
    const reported = [j.outputs?.srSeriesUID, j.outputs?.segSeriesUID].some((uid) => uid && ownSeries.includes(uid));
    return k && k.modelVersion !== d.modelVersion && k.series === now.series && k.instances.digest === now.instances.digest && reported;
  });
}

/**
 * The latest successful analysis of the study by the same model, when the new key differs from it: why the study
 * is analysed again and which outputs the new report supersedes. A forced re-run of the same key supersedes
 * nothing (its report gets the same UIDs and replaces the stored one).
 */
async function previousAnalysis(d: SelectDeps, studyInstanceUID: string, key: string): Promise<SelectedSeries['reanalysis']> {
  const earlier = ((await d.succeededForStudy?.(studyInstanceUID)) ?? []).filter((j) => j.modelVersion === d.modelVersion && j.idempotencyKey);
  const prev = earlier[0];
  if (!prev?.idempotencyKey) return undefined;
  const why = reanalysisReason(prev.idempotencyKey, key);
  if (!why) return undefined;
  // Every earlier report of this model in the study: one current report per study and model.
  return { why, previousJobId: prev.id, supersedes: earlier.map((j) => j.outputs ?? {}).filter((o) => o.srSeriesUID || o.segSeriesUID) };
}

/**
 * The dataset of the chosen series' first instance, for the dashboard's study information. It does not decide the
 * analysis: when it cannot be read the study is analysed all the same (the fetch stage reads what it needs itself).
 */
async function firstDataset(m: SeriesMetadata, studyInstanceUID: string): Promise<Dataset> {
  const first = m.series.instances[0];
  if (!first) return {};
  try {
    return await m.dataset(first.sopInstanceUID);
  } catch (e) {
    log.warn('study information not read (the dashboard shows the study without it)', {
      studyInstanceUID, seriesInstanceUID: m.series.seriesInstanceUID, error: (e as Error).message,
    });
    return {};
  }
}

/** A text element of the dataset, trimmed and cut to `max` characters; undefined when absent or empty. */
function text(v: unknown, max: number): string | undefined {
  const t = typeof v === 'string' ? v.trim() : '';
  return t ? t.slice(0, max) : undefined;
}

/** The study as the chosen series' first instance names it (the dashboard's columns), each text cut to its VR's length. */
export function studyInfoOf(series: SeriesMetadata['series'], ds: Dataset): StudyInfo {
  const info: StudyInfo = { seriesInstanceUID: series.seriesInstanceUID, instances: series.instances.length };
  const date = text(ds.StudyDate, 8);
  if (date && /^\d{8}$/.test(date)) info.studyDate = date;
  const description = text(ds.StudyDescription, 64);
  if (description) info.studyDescription = description;
  const modality = text(ds.Modality ?? series.modality, 16);
  if (modality) info.modality = modality;
  const accession = text(ds.AccessionNumber, 16);
  if (accession) info.accessionNumber = accession;
  const seriesDescription = text(series.seriesDescription, 64);
  if (seriesDescription) info.seriesDescription = seriesDescription;
  if (series.seriesNumber !== undefined) info.seriesNumber = series.seriesNumber;
  return info;
}
