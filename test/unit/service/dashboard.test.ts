import { PNG } from 'pngjs';
import type { Job } from '../../../src/jobs/types';
import { renderJobDetail, renderJobList } from '../../../src/server/dashboard';
import { LUNG_WINDOW, renderKeySlicePng, SOFT_TISSUE_WINDOW, windowForLesionType } from '../../../src/server/key-slice-png';

describe('key-slice picture', () => {
  test('windowed grey values with the lesion box outlined', () => {
    const rows = 20, columns = 30;
    const hu = new Int16Array(rows * columns).fill(-1000);
    hu[5 * columns + 5] = 40; // soft-tissue centre -> mid grey
    hu[6 * columns + 6] = 1000; // above the window -> white
    const png = PNG.sync.read(renderKeySlicePng({ hu, rows, columns }, SOFT_TISSUE_WINDOW, [10, 8, 20, 14]));
    const px = (x: number, y: number) => Array.from(png.data.subarray((y * columns + x) * 4, (y * columns + x) * 4 + 3));
    expect([png.width, png.height]).toEqual([columns, rows]);
    expect(px(0, 0)).toEqual([0, 0, 0]);
    for (const v of px(5, 5)) expect(Math.abs(v - 127.5)).toBeLessThanOrEqual(0.5); // window centre: mid grey
    expect(px(6, 6)).toEqual([255, 255, 255]);
    expect(px(8, 6)).toEqual([255, 215, 0]); // box corner, 2 px outside the lesion box
    expect(px(15, 11)).toEqual([0, 0, 0]); // inside the box stays image
    expect(() => renderKeySlicePng({ hu: new Int16Array(3), rows, columns }, LUNG_WINDOW)).toThrow(/pixels/);
  });
  test('lung nodules get the lung window, everything else soft tissue', () => {
    expect(windowForLesionType('lung_nodule')).toBe(LUNG_WINDOW);
    expect(windowForLesionType('liver_lesion')).toBe(SOFT_TISSUE_WINDOW);
  });
});

describe('dashboard pages', () => {
  const job: Job = {
    id: 7, kind: 'study-analysis', studyInstanceUID: '1.2.3', payload: {}, source: 'webhook', state: 'succeeded', attempts: 1, maxAttempts: 5, nextAttemptAt: 0, force: false,
    receivedAt: 0, createdAt: 0, updatedAt: 0, lesionCount: 1, outputs: { srSopInstanceUID: '1.2.3.4' },
    lesions: [{ id: 1, type: 'liver_lesion', score: 0.87, longAxisMm: 21.3, shortAxisMm: 14.2, keySlice: { sopInstanceUID: '1.2.3.9', box: [1, 2, 3, 4] } }],
  };
  test('list and detail show state, lesion measurements and the picture URL, escaped', () => {
    const list = renderJobList([job, { ...job, id: 8, state: 'skipped', lesions: undefined, lastError: '<no CT>' }], {
      queued: 0, running: 0, succeeded: 1, skipped: 1, failed: 0, 'failed-retrying': 0, dead: 0, quarantined: 0,
    });
    expect(list).toContain('/dashboard/jobs/7/lesions/1.png');
    expect(list).toContain('21.3 × 14.2 mm');
    expect(list).toContain('&lt;no CT&gt;');
    const detail = renderJobDetail(job, [{ id: 1, jobId: 7, at: 0, event: 'stored', details: { srSopInstanceUID: '1.2.3.4' } }]);
    expect(detail).toContain('Job #7');
    expect(detail).toContain('stored');
  });
  test('a job of another kind shows its kind and payload instead of a study', () => {
    const harvest: Job = { ...job, id: 9, kind: 'harvest-run', studyInstanceUID: undefined, payload: { from: '20240101' }, state: 'queued', lesions: undefined };
    const list = renderJobList([harvest], { queued: 1, running: 0, succeeded: 0, skipped: 0, failed: 0, 'failed-retrying': 0, dead: 0, quarantined: 0 });
    expect(list).toContain('harvest-run');
    expect(list).toContain('{&quot;from&quot;:&quot;20240101&quot;}');
    expect(renderJobDetail(harvest, [])).toMatch(/harvest-run · payload/);
  });
});
