/**
 * node.gpus pins analysis processes to GPUs (src/worker/gpu-devices.ts): process i on CUDA device i mod N, CPU
 * without GPUs. Only the assignment is tested here: no GPU is present on the machines that run this suite, so the
 * CUDA session itself (onnxruntime's deviceId) is not exercised.
 */
import { deviceLabel, workerDevice } from '../../../src/worker/gpu-devices';

test('with N GPUs and the CUDA provider, process i uses device i mod N', () => {
  const devices = [0, 1, 2, 3, 4].map((i) => workerDevice(i, 2, ['cuda', 'cpu']));
  expect(devices.map((d) => d.cudaDeviceId)).toEqual([0, 1, 0, 1, 0]);
  expect(devices.every((d) => d.executionProviders.join() === 'cuda,cpu')).toBe(true);
  expect(workerDevice(3, 4, ['cuda']).cudaDeviceId).toBe(3);
});

test('with 0 GPUs the CUDA provider is not tried; without the CUDA provider GPUs pin nothing', () => {
  expect(workerDevice(1, 0, ['cuda', 'cpu'])).toEqual({ executionProviders: ['cpu'] });
  expect(workerDevice(0, 0, ['cuda'])).toEqual({ executionProviders: ['cpu'] });
  expect(workerDevice(2, 2, ['cpu'])).toEqual({ executionProviders: ['cpu'] });
});

test('a bad index or GPU count is refused; labels name the device', () => {
  expect(() => workerDevice(-1, 1, ['cuda'])).toThrow(RangeError);
  expect(() => workerDevice(0, 1.5, ['cuda'])).toThrow(/node.gpus/);
  expect(deviceLabel('cuda', 1)).toBe('cuda:1');
  expect(deviceLabel('cuda', undefined)).toBe('cuda:0');
  expect(deviceLabel('cpu', 1)).toBe('cpu');
});
