import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli';
import { EvalInputError, loadFindingsTree, loadTruthTree } from '../../../src/eval/load-tree';

describe('lens eval', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-eval-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (rel: string, obj: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), JSON.stringify(obj));
  };

  function tree() {
    for (const [i, uid] of ['1.1', '1.2'].entries()) {
      write(`truth/s${i}/truth.json`, { source: 't', boxConvention: 'lps', studies: [{ studyInstanceUID: uid, seriesInstanceUIDs: [], lesions: [{ type: 'lung_nodule', bboxLPS: [0, 0, 0, 10, 10, 10] }] }] });
    }
    write('pred/a/b/findings.json', { studyInstanceUID: '1.1', seriesInstanceUID: 'x', model: {}, lesions: [{ id: 1, score: 0.9, bboxLPS: [0, 0, 0, 10, 10, 10] }, { id: 2, score: 0.8, bboxLPS: [50, 0, 0, 60, 10, 10] }], timingsMs: {} });
    write('pred/c/findings.json', { studyInstanceUID: '1.2', seriesInstanceUID: 'y', model: {}, lesions: [], timingsMs: {} });
  }

  it('reads truth and findings trees recursively and prints the table or JSON', async () => {
    tree();
    expect(loadTruthTree(path.join(dir, 'truth'))).toHaveLength(2);
    expect(loadFindingsTree(path.join(dir, 'pred'))).toHaveLength(2);
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      expect(await main(['node', 'lens', 'eval', '--truth', path.join(dir, 'truth'), '--pred', path.join(dir, 'pred'), '--json'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const r = JSON.parse(out.join(''));
    expect(r.volumes).toBe(2);
    expect(r.sensitivityAtFp.map((s: { sensitivity: number }) => s.sensitivity)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(r.perType.types.lung_nodule).toEqual({ lesions: 2, found: 1, sensitivity: 0.5 });
  });

  it('rejects malformed input with the file named', () => {
    write('truth/truth.json', { studies: [{ studyInstanceUID: '1', lesions: [{ type: 'x', bboxLPS: [1, 2, 3] }] }] });
    expect(() => loadTruthTree(path.join(dir, 'truth'))).toThrow(EvalInputError);
    expect(() => loadTruthTree(path.join(dir, 'truth'))).toThrow(/truth\.json: studies\[0\]\.lesions\[0\]\.bboxLPS is not 6 numbers/);
    expect(() => loadFindingsTree(path.join(dir, 'nothing'))).toThrow(/does not exist/);
  });
});
