/** The `dimse` config section: defaults that refuse every sender, checked AE titles, and DIMSE as an event source. */
import { configSchema } from '../../../src/config/schema';
import { serviceConfigProblems } from '../../../src/config/service-requirements';

const onlyDimse = (dimse: Record<string, unknown>) =>
  configSchema.parse({ listener: { changeFeed: { enabled: false }, webhook: { enabled: false } }, dimse: { enabled: true, ...dimse } });

test('defaults: off, loopback, an empty allow-list; an AE title is 1-16 characters without a backslash', () => {
  expect(configSchema.parse({}).dimse).toMatchObject({ enabled: false, host: '127.0.0.1', aeTitle: 'LENS', allowedCallingAeTitles: [], keepReceived: 'failed' });
  expect(() => configSchema.parse({ dimse: { aeTitle: 'A\\B' } })).toThrow(/no backslash/);
  expect(() => configSchema.parse({ dimse: { aeTitle: 'SEVENTEEN_CHARS_X' } })).toThrow();
  expect(() => configSchema.parse({ dimse: { destination: { aeTitle: 'PACS' } } })).toThrow(/port/);
  // Storage commitment where the destination offers it, unless set 'on' (required) or 'off'.
  expect(configSchema.parse({ dimse: { destination: { aeTitle: 'PACS', port: 104 } } }).dimse.destination).toMatchObject({ storageCommitment: 'auto', commitmentTimeoutMs: 60000 });
  expect(() => configSchema.parse({ dimse: { destination: { aeTitle: 'PACS', port: 104, storageCommitment: 'yes' } } })).toThrow(/auto.*on.*off|Invalid enum/);
});

test('the C-STORE SCP is an event source once it allows a sender', () => {
  expect(serviceConfigProblems(onlyDimse({ allowedCallingAeTitles: ['PACS1'] }))).toEqual([]);
  expect(serviceConfigProblems(onlyDimse({})).join()).toMatch(/needs dimse.allowedCallingAeTitles/);
});
