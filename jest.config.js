/** Unit tests are fast and pure; integration tests start real servers (Orthanc, Chromium) and run longer. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120000,
  // Integration tests mostly wait on Orthanc, PostgreSQL and child processes: a third worker fills 2 cores.
  maxWorkers: 3,
  verbose: false,
};
