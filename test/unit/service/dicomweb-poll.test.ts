/**
 * The poller's logic against an in-memory QIDO-RS (a fake StudySearch) and the real SQLite store: which query it
 * sends, when a study counts as arrived, and when a known study is enqueued again (its images changed, not only our outputs).
 */
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { DicomwebPoller, POLL_CURSOR, type StudySearch } from '../../../src/listener/dicomweb-poll';
import type { SeriesSummary } from '../../../src/source/study-source';

const study = (uid: string, instances: number) => ({ '0020000D': { vr: 'UI', Value: [uid] }, '00201208': { vr: 'IS', Value: [instances] } });

function setup(studies: () => Record<string, any>[]) {
  const store = new SqliteJobStore({ file: ':memory:', maxAttempts: 3, backoff: { baseSeconds: 1, maxSeconds: 1 } });
  const queries: Record<string, string>[] = [];
  const client: StudySearch = {
    async searchStudies(q) {
      queries.push(q ?? {});
      return studies();
    },
  };
  return { store, queries, client, poller: new DicomwebPoller({ client, store, intervalMs: 1000, lookbackMinutes: 60, studyDateLookbackDays: 2 }) };
}

test('asks for an open-ended StudyDate range reaching back whole days; remembers where the poll ended', async () => {
  const { store, queries, poller } = setup(() => []);
  const now = new Date(2024, 5, 10, 9, 0);
  await poller.pollOnce(now);
  expect(queries[0]).toEqual({ StudyDate: '20240608-', includefield: '00201208' });
  expect(await store.getCursor(POLL_CURSOR)).toBe(now.toISOString());
});

test('a study is enqueued once its count is unchanged between two polls; again when its images change, not for our own SR/SEG', async () => {
  let list = [study('1.1', 10)];
  let series: SeriesSummary[] = [{ seriesInstanceUID: '1.1.1', modality: 'CT', numberOfInstances: 20 }];
  const { store, client } = setup(() => list);
  const poller = new DicomwebPoller({ client, store, intervalMs: 1000, lookbackMinutes: 60, listSeries: async () => series });
  const t = (m: number) => new Date(2024, 5, 10, 9, m);
  expect(await poller.pollOnce(t(0))).toBe(0); // first sight
  list = [study('1.1', 20)];
  expect(await poller.pollOnce(t(1))).toBe(0); // still arriving
  expect(await poller.pollOnce(t(2))).toBe(1); // stable
  expect((await store.list()).map((j) => [j.kind, j.studyInstanceUID, j.source])).toEqual([['study-analysis', '1.1', 'poll']]);
  expect(await poller.pollOnce(t(3))).toBe(0); // unchanged: not again
  const first = (await store.list())[0];
  await store.complete((await store.claim('w', 1000))!.id, 'w', { kind: 'skipped', reason: 'no-ct', message: 'test' });
  // Our SR and SEG change the count, not the images: no new job.
  series = [...series, { seriesInstanceUID: '1.1.8', modality: 'SR', manufacturer: 'lens-pacs', numberOfInstances: 1 }, { seriesInstanceUID: '1.1.9', modality: 'SEG', manufacturer: 'lens-pacs', numberOfInstances: 1 }];
  list = [study('1.1', 22)];
  await poller.pollOnce(t(4));
  expect(await poller.pollOnce(t(5))).toBe(0);
  // Late slices change the images: once the count settles, the study is enqueued again.
  series = [{ ...series[0], numberOfInstances: 34 }, ...series.slice(1)];
  list = [study('1.1', 36)];
  expect(await poller.pollOnce(t(6))).toBe(0);
  expect(await poller.pollOnce(t(7))).toBe(1);
  const jobs = await store.list();
  expect(jobs).toHaveLength(2);
  expect((await store.journey(jobs[0].id))[0].details).toMatchObject({ instances: 36, instancesBefore: 22 });
  expect(jobs[1].id).toBe(first.id);
  // A new poller (a restart) takes a study the store knows at the count it has: no new job.
  const restarted = new DicomwebPoller({ client, store, intervalMs: 1000, lookbackMinutes: 60, listSeries: async () => series });
  await restarted.pollOnce(t(8));
  expect(await restarted.pollOnce(t(9))).toBe(0);
  expect(await store.list()).toHaveLength(2);
});
