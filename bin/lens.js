#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so the command never lags behind a stale build.
require('tsx/cjs');
require('../src/cli.ts')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
