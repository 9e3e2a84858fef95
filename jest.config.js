/** Unit tests are fast and pure; integration tests start real servers (Orthanc, Chromium) and run longer. */
module.exports = {
  testEnvironment: 'node',
  // ts-jest, then each module's hot built-ins made local: code runs at Node's speed inside jest's vm sandbox
  // (test/helpers/sandbox-globals-transform.js says why).
  transform: { '^.+\\.ts$': ['<rootDir>/test/helpers/sandbox-globals-transform.js', { diagnostics: false }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Longest files first (CI has no jest cache to learn the order from): the workers finish together.
  testSequencer: '<rootDir>/test/helpers/longest-first-sequencer.js',
  testTimeout: 120000,
  // Integration tests mostly wait on Orthanc, PostgreSQL and child processes: a third worker fills 2 cores.
  maxWorkers: 3,
  verbose: false,
};
