/**
 * What `lens serve` refuses before it opens anything: no event source that can deliver a study, or a listener
 * beyond loopback without server.apiToken. Each refusal names the keys to set.
 */
import { configSchema } from '../../../src/config/schema';
import { ConfigError } from '../../../src/config/load';
import { assertServiceConfig, isLoopbackHost, serviceConfigProblems } from '../../../src/config/service-requirements';
import { startService } from '../../../src/server/service';

const TOKEN = 'a-token-of-enough-length';
const cfg = (raw: Record<string, unknown>) => configSchema.parse(raw);

test('the defaults alone (the README example: only pacs.dicomwebUrl) cannot deliver a study, and say why for each source', () => {
  const problems = serviceConfigProblems(cfg({ pacs: { dicomwebUrl: 'http://127.0.0.1:8042/dicom-web' } }));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(/no event source can deliver studies/);
  expect(problems[0]).toContain('change feed (listener.changeFeed.enabled): needs orthanc.url');
  expect(problems[0]).toContain('webhook (listener.webhook.enabled): needs listener.webhook.secret');
  expect(problems[0]).toContain('DICOMweb poll (listener.dicomwebPoll.enabled): off');
});

test('all three sources off is refused; any one that works is enough', () => {
  const off = { changeFeed: { enabled: false }, webhook: { enabled: false }, dicomwebPoll: { enabled: false } };
  expect(serviceConfigProblems(cfg({ listener: off, orthanc: { url: 'http://127.0.0.1:8042' } }))[0]).toMatch(/change feed \(listener\.changeFeed\.enabled\): off/);
  expect(serviceConfigProblems(cfg({ orthanc: { url: 'http://127.0.0.1:8042' } }))).toEqual([]);
  expect(serviceConfigProblems(cfg({ listener: { webhook: { secret: 's' } } }))).toEqual([]);
  expect(serviceConfigProblems(cfg({ listener: { dicomwebPoll: { enabled: true } } }))).toEqual([]);
  // The only source enabled lacks what it needs.
  expect(serviceConfigProblems(cfg({ listener: { ...off, webhook: { enabled: true } } }))[0]).toMatch(/webhook \(listener\.webhook\.enabled\): needs listener\.webhook\.secret/);
});

test('a listener beyond loopback needs server.apiToken', () => {
  const base = { orthanc: { url: 'http://127.0.0.1:8042' } };
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'lens.example.org']) {
    const p = serviceConfigProblems(cfg({ ...base, server: { host } }));
    expect(p).toEqual([expect.stringMatching(new RegExp(`server\\.host ${host.replace(/\./g, '\\.')} is not a loopback address: set server\\.apiToken`))]);
    expect(serviceConfigProblems(cfg({ ...base, server: { host, apiToken: TOKEN } }))).toEqual([]);
  }
  for (const host of ['127.0.0.1', '127.0.1.1', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopbackHost(host)).toBe(true);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'localhost.example.org', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
});

test('assertServiceConfig throws a ConfigError listing every problem', () => {
  expect(() => assertServiceConfig(cfg({ server: { host: '0.0.0.0' } }))).toThrow(ConfigError);
  expect(() => assertServiceConfig(cfg({ server: { host: '0.0.0.0' } }))).toThrow(/no event source[\s\S]*server\.host 0\.0\.0\.0/);
});

test('startService refuses before it opens the job store or listens', async () => {
  // A work dir that cannot be created would fail differently: the refusal comes first.
  const config = cfg({ workDir: '/proc/lens-must-not-be-created', orthanc: { url: 'http://127.0.0.1:9' }, server: { host: '0.0.0.0', port: 0 } });
  await expect(startService(config)).rejects.toThrow(/server\.host 0\.0\.0\.0 is not a loopback address: set server\.apiToken/);
});
