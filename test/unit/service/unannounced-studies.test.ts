/**
 * A study that Orthanc created but never announced as stable (it crashed within the study's StableAge: a poison
 * study crashing the PACS) is handed back by the change feed after two looks that find it stable; an announced,
 * unstable or deleted study is not. The change feed part against a real Orthanc: pacs-poison.test.ts.
 */
import { UnannouncedStudies } from '../../../src/listener/unannounced-studies';

test('stable on two looks without a StableStudy: recovered once; announced, still unstable or deleted: not', async () => {
  const u = new UnannouncedStudies();
  for (const id of ['lost', 'announced', 'unstable', 'deleted']) u.noteNew(id, 0);
  u.forget('announced');
  const state: Record<string, boolean | undefined> = { lost: true, unstable: false, deleted: undefined };
  const looked: string[] = [];
  const isStable = async (id: string) => {
    looked.push(id);
    return state[id];
  };
  // Too young for a look.
  expect(await u.recover(isStable, 1000)).toEqual([]);
  expect(looked).toEqual([]);
  // First look: seen stable once (its StableStudy may still be on its way); the deleted one is dropped.
  expect(await u.recover(isStable, 5000)).toEqual([]);
  expect(looked.sort()).toEqual(['deleted', 'lost', 'unstable']);
  // No second look before the interval.
  expect(await u.recover(isStable, 6000)).toEqual([]);
  expect(looked).toHaveLength(3);
  // Second look: still stable and never announced.
  expect(await u.recover(isStable, 10000)).toEqual(['lost']);
  expect(await u.recover(isStable, 20000)).toEqual([]);
  expect(u.size).toBe(1); // the unstable one waits on
});

test('a study announced between the two looks is not recovered', async () => {
  const u = new UnannouncedStudies();
  u.noteNew('s', 0);
  expect(await u.recover(async () => true, 5000)).toEqual([]);
  u.forget('s');
  expect(await u.recover(async () => true, 10000)).toEqual([]);
});
