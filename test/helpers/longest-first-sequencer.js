/**
 * Jest test sequencer: the longest test files first, so that the workers finish together instead of one worker
 * starting a two-minute file when the others are done.
 *
 * Jest does this by itself only from its cache of last durations; a fresh clone (CI) has no cache, and jest then
 * orders by file size, which says little here (a short file may start Orthanc and analyse a CT for a minute).
 * So the files known to be long carry an estimate (seconds on 2 cores, from a fresh-clone CI log; only the order
 * matters), every other file counts as short, and a cached duration, where jest has one, wins.
 */
const Sequencer = require('@jest/test-sequencer').default;
const path = require('node:path');

const KNOWN_SECONDS = {
  'test/integration/service/outage.test.ts': 60,
  'test/integration/service/end-to-end.test.ts': 63,
  'test/integration/service/resilience.test.ts': 59,
  'test/integration/viewer/ohif-sr-seg.test.ts': 59,
  'test/integration/service/kills.test.ts': 59,
  'test/integration/service/change-feed.test.ts': 58,
  'test/integration/service/poison.test.ts': 55,
  'test/integration/service/pacs-poison.test.ts': 50,
  'test/integration/dicom/fuzz-corpus.test.ts': 46,
  'test/integration/pacs/compressed.test.ts': 42,
  'test/integration/service/study-changes.test.ts': 42,
  'test/integration/training/training-smoke.test.ts': 41,
  'test/integration/harvest/retraining.test.ts': 40,
  'test/integration/service/multi-node.test.ts': 40,
  'test/integration/service/login.test.ts': 39,
  'test/integration/service/metadata-requests.test.ts': 39,
  'test/integration/dicom/damaged-series.test.ts': 38,
  'test/integration/dicom/real-world-series.test.ts': 36,
  'test/integration/dimse/dimse.test.ts': 29,
  'test/integration/models/model-reload.test.ts': 28,
  'test/integration/service/disk-full.test.ts': 27,
  'test/unit/worker/analysis-process.test.ts': 27,
  'test/integration/service/dicomweb-poll.test.ts': 25,
  'test/integration/harvest/harvest-orthanc.test.ts': 24,
  'test/integration/dicom/inspect-cli.test.ts': 24,
  'test/integration/dicom/real-ct.test.ts': 21,
  'test/integration/report/validity.test.ts': 20,
  'test/integration/service/poison-file.test.ts': 18,
  'test/integration/jobs/postgres-store.test.ts': 18,
  'test/integration/pacs/lens-push.test.ts': 17,
  'test/integration/detect/detect-synthetic.test.ts': 17,
  'test/integration/detect/proposal-classifier.test.ts': 16,
  'test/integration/service/doctor.test.ts': 16,
  'test/integration/synth/synth-cli.test.ts': 14,
  'test/integration/synth/generate.test.ts': 13,
  'test/integration/pacs/orthanc-setup.test.ts': 12,
  'test/integration/pacs/dicomweb-roundtrip.test.ts': 11,
};
/** Files not in the table: integration files start servers or tools, unit files are pure. */
const defaultSeconds = (rel) => (rel.startsWith('test/integration/') ? 8 : 2);

class LongestFirstSequencer extends Sequencer {
  sort(tests) {
    const estimate = (t) => {
      const cached = this.time(t);
      if (cached != null) return cached / 1000;
      const rel = path.relative(t.context.config.rootDir, t.path).split(path.sep).join('/');
      return KNOWN_SECONDS[rel] ?? defaultSeconds(rel);
    };
    const keyed = tests.map((t) => ({ t, failed: this.hasFailed(t), s: estimate(t) }));
    keyed.sort((a, b) => (a.failed !== b.failed ? (a.failed ? -1 : 1) : b.s - a.s || (a.t.path < b.t.path ? -1 : 1)));
    return keyed.map((k) => k.t);
  }
}

module.exports = LongestFirstSequencer;
