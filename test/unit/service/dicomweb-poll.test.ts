/**
 * The poller's logic against an in-memory QIDO-RS (a fake StudySearch) and the real SQLite store: which query it
 * sends, when a study counts as arrived, and that known studies are never enqueued again.
 */
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { DicomwebPoller, POLL_CURSOR, type StudySearch } from '../../../src/listener/dicomweb-poll';

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
  return { store, queries, poller: new DicomwebPoller({ client, store, intervalMs: 1000, lookbackMinutes: 60, studyDateLookbackDays: 2 }) };
}

test('asks for an open-ended StudyDate range reaching back whole days; remembers where the poll ended', async () => {
  const { store, queries, poller } = setup(() => []);
  const now = new Date(2024, 5, 10, 9, 0);
  await poller.pollOnce(now);
  expect(queries[0]).toEqual({ StudyDate: '20240608-', includefield: '00201208' });
  expect(await store.getCursor(POLL_CURSOR)).toBe(now.toISOString());
});

test('a study is enqueued once its instance count is unchanged between two polls, and never again', async () => {
  let list = [study('1.1', 10)];
  const { store, poller } = setup(() => list);
  const t = (m: number) => new Date(2024, 5, 10, 9, m);
  expect(await poller.pollOnce(t(0))).toBe(0); // first sight
  list = [study('1.1', 20)];
  expect(await poller.pollOnce(t(1))).toBe(0); // still arriving
  expect(await poller.pollOnce(t(2))).toBe(1); // stable
  expect((await store.list()).map((j) => [j.kind, j.studyInstanceUID, j.source])).toEqual([['study-analysis', '1.1', 'poll']]);
  // Our SR and SEG change the count; the study is known and stays analysed once.
  list = [study('1.1', 22)];
  await poller.pollOnce(t(3));
  await poller.pollOnce(t(4));
  expect(await store.list()).toHaveLength(1);
});
