import { createLimiter } from '../../../src/pacs/limiter';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
const tick = () => new Promise((r) => setImmediate(r));

test('runs at most `limit` tasks at once, the rest in FIFO order', async () => {
  const limit = createLimiter(2);
  const gates = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  let running = 0;
  let peak = 0;
  const all = gates.map((g, i) =>
    limit(async () => {
      started.push(i);
      peak = Math.max(peak, ++running);
      await g.promise;
      running--;
      return i;
    }),
  );
  await tick();
  expect(started).toEqual([0, 1]);
  gates[1].resolve();
  await tick();
  expect(started).toEqual([0, 1, 2]);
  gates.forEach((g) => g.resolve());
  expect(await Promise.all(all)).toEqual([0, 1, 2, 3, 4]);
  expect(peak).toBe(2);
});

test('a failing task (thrown or rejected) frees its slot and passes its error on', async () => {
  const limit = createLimiter(1);
  const a = limit(async () => {
    throw new Error('boom');
  });
  const b = limit((() => {
    throw new Error('sync boom');
  }) as () => Promise<never>);
  const c = limit(async () => 'ok');
  await expect(a).rejects.toThrow('boom');
  await expect(b).rejects.toThrow('sync boom');
  await expect(c).resolves.toBe('ok');
});

test('rejects a limit that is not a positive integer', () => {
  expect(() => createLimiter(0)).toThrow(/positive integer/);
  expect(() => createLimiter(1.5)).toThrow(/positive integer/);
});
