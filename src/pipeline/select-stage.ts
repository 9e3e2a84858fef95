/**
 * Stage "selected": what is in the study (QIDO-RS), which series to analyse (WADO-RS metadata + the selection
 * rules), and whether the study needs analysis at all. Skips, each with its reason:
 *   own-output        the study changed only by our own SR/SEG (or holds nothing else)
 *   no-ct             no series of the configured modality
 *   no-suitable-series CT series exist but none passes the rules (e.g. only a scout), with each series' reasons
 *   already-analysed  the same study, series and model version succeeded before
 */
import type { SelectionRules } from '../config/schema';
import type { SeriesInfo } from '../dicom/series';
import type { Job } from '../jobs/types';
import { SkipStudy } from './errors';
import { idempotencyKey } from './idempotency';
import { splitOwnOutputs, type SeriesSummary } from './own-outputs';
import type { ReceivedStudy, SelectedSeries, Stage } from './stages';

export interface SeriesChoice {
  selected?: SeriesInfo;
  why: string;
  rejected: { series: SeriesInfo; reasons: string[] }[];
}

export interface SelectDeps {
  modelVersion: string;
  rules: SelectionRules;
  listSeries(studyInstanceUID: string): Promise<SeriesSummary[]>;
  seriesInfo(studyInstanceUID: string, seriesInstanceUID: string): Promise<SeriesInfo>;
  selectSeries(series: SeriesInfo[], rules: SelectionRules): SeriesChoice;
  findSucceeded(key: string): Job | undefined;
}

export function selectStage(d: SelectDeps): Stage<ReceivedStudy, SelectedSeries> {
  return {
    name: 'selected',
    describe: (s) => ({
      seriesInstanceUID: s.series.seriesInstanceUID,
      instances: s.series.instances.length,
      why: s.why,
      rejected: s.rejected,
      modelVersion: s.modelVersion,
    }),
    async run({ studyInstanceUID, force }) {
      const all = await d.listSeries(studyInstanceUID);
      if (all.length === 0) throw new SkipStudy('empty-study', `study ${studyInstanceUID} has no series in the PACS`);
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
      const infos: SeriesInfo[] = [];
      for (const c of candidates) infos.push(await d.seriesInfo(studyInstanceUID, c.seriesInstanceUID));
      const choice = d.selectSeries(infos, d.rules);
      for (const r of choice.rejected) rejected.push({ seriesInstanceUID: r.series.seriesInstanceUID, reasons: r.reasons });
      if (!choice.selected) {
        const detail = choice.rejected.map((r) => `${r.series.seriesInstanceUID}: ${r.reasons.join(', ')}`).join('; ');
        throw new SkipStudy('no-suitable-series', `no ${modality} series suitable for detection: ${detail || choice.why}`);
      }
      const key = idempotencyKey(studyInstanceUID, choice.selected.seriesInstanceUID, d.modelVersion);
      if (!force) {
        const prev = d.findSucceeded(key);
        if (prev && own.length)
          throw new SkipStudy(
            'own-output',
            `the study changed by lens-pacs's own outputs (${own.map((o) => o.series.modality).join(', ')}); series ${choice.selected.seriesInstanceUID} was analysed by model ${d.modelVersion} in job ${prev.id}`,
          );
        if (prev)
          throw new SkipStudy('already-analysed', `series ${choice.selected.seriesInstanceUID} was analysed by model ${d.modelVersion} in job ${prev.id}`);
      }
      return {
        studyInstanceUID, series: choice.selected, why: choice.why, modelVersion: d.modelVersion, idempotencyKey: key, rejected,
      };
    },
  };
}
