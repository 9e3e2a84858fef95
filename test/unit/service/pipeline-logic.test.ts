import { selectionSchema } from '../../../src/config/schema';
import type { SeriesInfo } from '../../../src/dicom/series';
import { SkipStudy } from '../../../src/pipeline/errors';
import { idempotencyKey, instanceSet } from '../../../src/pipeline/idempotency';
import { ownOutputReason, splitOwnOutputs } from '../../../src/pipeline/own-outputs';
import type { InstanceHeader } from '../../../src/dicom/instance-header';
import type { Job } from '../../../src/jobs/types';
import { selectStage, type SelectDeps } from '../../../src/pipeline/select-stage';
import type { SelectedSeries } from '../../../src/pipeline/stages';
import { fetchStage } from '../../../src/pipeline/study-pipeline';
import type { SeriesMetadata, SeriesSummary } from '../../../src/source/study-source';
import { reader as frameReader, series as headerSeries } from '../dicom/synthetic-headers';
import { isStable, pollWindow } from '../../../src/listener/poll-window';

describe('own outputs', () => {
  test('SR/SEG series made by lens-pacs are recognised by Manufacturer or description', () => {
    expect(ownOutputReason({ seriesInstanceUID: '1', modality: 'SR', manufacturer: 'lens-pacs' })).toMatch(/Manufacturer/);
    expect(ownOutputReason({ seriesInstanceUID: '2', modality: 'SEG', seriesDescription: 'LENS lesions (lens-ulb 1.0)' })).toMatch(/SeriesDescription/);
    expect(ownOutputReason({ seriesInstanceUID: '3', modality: 'SR', manufacturer: 'ACME', seriesDescription: 'Dose report' })).toBeUndefined();
    expect(ownOutputReason({ seriesInstanceUID: '4', modality: 'CT', manufacturer: 'lens-pacs' })).toBeUndefined();
    const { own, others } = splitOwnOutputs([{ seriesInstanceUID: '1', modality: 'SR', manufacturer: 'lens-pacs' }, { seriesInstanceUID: '5', modality: 'CT' }]);
    expect(own.map((o) => o.series.seriesInstanceUID)).toEqual(['1']);
    expect(others.map((o) => o.seriesInstanceUID)).toEqual(['5']);
  });
});

describe('poll windows', () => {
  test('each window starts lookback before the previous end, so windows overlap; the StudyDate range is open-ended', () => {
    const first = pollWindow(new Date(2024, 0, 2, 0, 30), undefined, 60);
    expect(first.from).toEqual(new Date(2024, 0, 1, 23, 30));
    expect(first.studyDate).toBe('20240101-');
    const next = pollWindow(new Date(2024, 0, 2, 0, 31), first.to, 60);
    expect(next.from.getTime()).toBeLessThan(first.to.getTime());
    // After an outage the window reaches back to where the last one ended, not just `lookback` before now.
    const late = pollWindow(new Date(2024, 0, 5), first.to, 60);
    expect(late.studyDate).toBe('20240101-');
  });
  test('the StudyDate range covers whole days before today: a study acquired before midnight and sent after it is found', () => {
    // 10:00 with a 2 h overlap alone would ask only for today's StudyDate.
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 0).studyDate).toBe('20240301-');
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 1).studyDate).toBe('20240229-');
    expect(pollWindow(new Date(2024, 2, 1, 10, 0), undefined, 120, 7).studyDate).toBe('20240223-');
    // The longer of the two reaches wins: an outage of 3 days with a 1-day lookback.
    expect(pollWindow(new Date(2024, 2, 4, 10, 0), new Date(2024, 2, 1, 9, 59), 120, 1).studyDate).toBe('20240301-');
  });
  test('a study is stable when its instance count did not change between polls', () => {
    expect(isStable(undefined, 10)).toBe(false);
    expect(isStable(9, 10)).toBe(false);
    expect(isStable(10, 10)).toBe(true);
    expect(isStable(0, 0)).toBe(false);
  });
});

describe('select stage', () => {
  const rules = selectionSchema.parse({});
  const ct = (uid: string, n: number): SeriesInfo => ({
    studyInstanceUID: '1.9', seriesInstanceUID: uid, modality: 'CT',
    instances: Array.from({ length: n }, (_, i) => ({ sopInstanceUID: `${uid}.${i + 1}` }) as InstanceHeader),
  });
  /** A study in memory: its series list, and each series' metadata (40 instances unless `sizes` says), with every metadata read counted. */
  function studyOf(list: SeriesSummary[], unreadable: Record<string, number> = {}, sizes: Record<string, number> = {}) {
    const reads: string[] = [];
    const source: SelectDeps['source'] = {
      listSeries: async () => list,
      seriesMetadata: async (_study, uid): Promise<SeriesMetadata> => {
        reads.push(uid);
        return {
          series: ct(uid, sizes[uid] ?? 40),
          unreadable: new Array(unreadable[uid] ?? 0).fill({ reason: 'dataset lacks SOPInstanceUID' }),
          dataset: async (sop) => ({ SOPInstanceUID: sop, StudyInstanceUID: '1.9' }),
        };
      },
    };
    return { source, reads };
  }
  const deps = (over: Partial<SelectDeps> = {}): SelectDeps => ({
    modelVersion: 'm-1',
    rules,
    source: studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }]).source,
    selectSeries: (series) => ({ selected: series[0], why: 'only one', rejected: [] }),
    findSucceeded: async () => undefined,
    ...over,
  });
  const run = (d: SelectDeps, force = false) => selectStage(d).run({ studyInstanceUID: '1.9', force });
  const skipReason = (p: Promise<unknown>) =>
    p.then(
      () => 'not skipped',
      (e) => (e instanceof SkipStudy ? e.reason : `error ${e}`),
    );

  test('selects and keys the work', async () => {
    const s = await run(deps());
    expect(s.idempotencyKey).toBe(idempotencyKey('1.9', '1.9.1', instanceSet(ct('1.9.1', 40).instances.map((i) => i.sopInstanceUID)), 'm-1'));
    expect(s.instances.count).toBe(40);
    expect(s.reanalysis).toBeUndefined();
  });
  test('reads the metadata of each candidate once, of no other series, and hands the chosen one on', async () => {
    const study = studyOf(
      [
        { seriesInstanceUID: '1.9.1', modality: 'CT' },
        { seriesInstanceUID: '1.9.2', modality: 'CT' },
        { seriesInstanceUID: '1.9.3', modality: 'PT' },
        { seriesInstanceUID: '1.9.4', modality: 'SR', manufacturer: 'lens-pacs' },
      ],
      { '1.9.2': 2 },
    );
    const stage = selectStage(
      deps({
        source: study.source,
        selectSeries: (series) => ({ selected: series[1], why: 'second', rejected: [{ series: series[0], reasons: ['ranked lower'] }], tolerated: ['slices 8 mm thick'] }),
      }),
    );
    const s = await stage.run({ studyInstanceUID: '1.9', force: false });
    expect(study.reads).toEqual(['1.9.1', '1.9.2']);
    expect(s.series.seriesInstanceUID).toBe('1.9.2');
    expect(s.metadata.series).toBe(s.series);
    expect(s.tolerated).toEqual(['slices 8 mm thick']);
    expect(await s.metadata.dataset('1.9.2.7')).toMatchObject({ SOPInstanceUID: '1.9.2.7' });
    expect(s.rejected).toEqual([
      { seriesInstanceUID: '1.9.3', reasons: ['modality PT is not CT'] },
      { seriesInstanceUID: '1.9.1', reasons: ['ranked lower'] },
    ]);
    expect(stage.describe(s)).toMatchObject({ seriesInstanceUID: '1.9.2', instances: 40, unreadableInstances: 2 });
  });
  test('skips a study holding only our outputs, non-CT studies and scout-only studies with reasons, reading no metadata for them', async () => {
    const own = studyOf([{ seriesInstanceUID: '7', modality: 'SR', manufacturer: 'lens-pacs' }]);
    expect(await skipReason(run(deps({ source: own.source })))).toBe('own-output');
    const mr = studyOf([{ seriesInstanceUID: '8', modality: 'MR' }]);
    expect(await skipReason(run(deps({ source: mr.source })))).toBe('no-ct');
    expect([...own.reads, ...mr.reads]).toEqual([]);
    expect(await skipReason(run(deps({ source: studyOf([]).source })))).toBe('empty-study');
    const scoutOnly = deps({ selectSeries: (series) => ({ why: 'none', rejected: [{ series: series[0], reasons: ['localizer'] }] }) });
    await expect(run(scoutOnly)).rejects.toThrow(/localizer/);
  });
  test('a re-announcement caused by our own SR/SEG is skipped as own-output; a re-run is forced', async () => {
    const prev = { id: 4 } as Job;
    const withOutputs = deps({
      source: studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }, { seriesInstanceUID: '7', modality: 'SR', manufacturer: 'lens-pacs' }]).source,
      findSucceeded: async () => prev,
    });
    expect(await skipReason(run(withOutputs))).toBe('own-output');
    expect(await skipReason(run(deps({ findSucceeded: async () => prev })))).toBe('already-analysed');
    await expect(run(deps({ findSucceeded: async () => prev }))).rejects.toThrow('already analysed: series 1.9.1, same 40 instances, same model m-1 (job 4)');
    expect((await run(withOutputs, true)).series.seriesInstanceUID).toBe('1.9.1');
  });
  test('a series completed later, or another series now preferred, is analysed again, superseding every earlier report of the model', async () => {
    const first = await run(deps({ source: studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }], {}, { '1.9.1': 60 }).source }));
    const done = (id: number, key: string, modelVersion = 'm-1') =>
      ({ id, idempotencyKey: key, modelVersion, outputs: { srSeriesUID: `sr${id}`, srSopInstanceUID: `sr${id}.1`, segSeriesUID: `seg${id}` } }) as Job;
    // The store knows the 60-instance analysis (job 5), an older one of another model (job 2); the series now has 134.
    const history = async () => [done(5, first.idempotencyKey), done(2, first.idempotencyKey, 'm-0')];
    const grown = studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }, { seriesInstanceUID: 'sr5', modality: 'SR', manufacturer: 'lens-pacs' }], {}, { '1.9.1': 134 });
    const again = await run(deps({ source: grown.source, succeededForStudy: history }));
    expect(again.instances.count).toBe(134);
    expect(again.idempotencyKey).not.toBe(first.idempotencyKey);
    expect(again.reanalysis).toEqual({
      why: 'series 1.9.1 changed: 74 instances added (60 -> 134)', previousJobId: 5,
      supersedes: [{ srSeriesUID: 'sr5', srSopInstanceUID: 'sr5.1', segSeriesUID: 'seg5' }],
    });
    expect(selectStage(deps()).describe(again)).toMatchObject({ reanalysis: { why: again.reanalysis!.why } });
    const twoSeries = studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }, { seriesInstanceUID: '1.9.2', modality: 'CT' }], {}, { '1.9.1': 60 });
    const preferred = await run(deps({ source: twoSeries.source, succeededForStudy: history, selectSeries: (series) => ({ selected: series[1], why: 'thinner', rejected: [] }) }));
    expect(preferred.reanalysis?.why).toBe('series 1.9.2 (40 instances) is now preferred over series 1.9.1 (60 instances)');
    // A forced re-run of the same key supersedes nothing: its report keeps the same UIDs.
    expect((await run(deps({ source: studyOf([{ seriesInstanceUID: '1.9.1', modality: 'CT' }], {}, { '1.9.1': 60 }).source, succeededForStudy: history }), true)).reanalysis).toBeUndefined();
  });
});

describe('fetch stage', () => {
  test('reads only frames: the headers and the first slice\'s dataset come with the selection; the journey says what was tolerated', async () => {
    const s = headerSeries([15, 5, 10]);
    const framesRead: string[] = [];
    const datasetsAsked: string[] = [];
    const source = {
      frameConcurrency: 2,
      frameReader: (_study: string, _series: string, instances: InstanceHeader[]) => {
        expect(instances).toBe(s.instances);
        const read = frameReader(s);
        return async (sop: string) => {
          framesRead.push(sop);
          return read(sop);
        };
      },
    };
    const selection: SelectedSeries = {
      studyInstanceUID: '1.2.3',
      series: s,
      metadata: { series: s, unreadable: [], dataset: async (sop) => (datasetsAsked.push(sop), { SOPInstanceUID: sop, StudyInstanceUID: '1.2.3' }) },
      why: 'the only one',
      tolerated: ['no ImageType: taken for ORIGINAL\\PRIMARY'],
      modelVersion: 'm-1',
      idempotencyKey: 'k',
      instances: instanceSet(s.instances.map((i) => i.sopInstanceUID)),
      rejected: [],
    };
    const stage = fetchStage(source);
    const f = await stage.run(selection);
    expect([...framesRead].sort()).toEqual(s.instances.map((i) => i.sopInstanceUID).sort());
    // The slice lowest along the normal (z = 5) is the volume's first: its dataset is the report's source.
    expect(datasetsAsked).toEqual([f.volume.slices[0].sopInstanceUID]);
    expect(f.volume.slices[0].position[2]).toBe(5);
    expect(f.sourceDataset.SOPInstanceUID).toBe(f.volume.slices[0].sopInstanceUID);
    expect(f.volume.tolerated).toContain('no ImageType: taken for ORIGINAL\\PRIMARY');
    expect(stage.describe(f)).toMatchObject({ slices: 3, tolerated: expect.arrayContaining(['no ImageType: taken for ORIGINAL\\PRIMARY']) });
    expect(stage.describe({ ...f, volume: { ...f.volume, tolerated: [] } })).not.toHaveProperty('tolerated');
  });
});
