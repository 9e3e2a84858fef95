/**
 * Prometheus metrics of the nightly harvest (docs/harvest.md#operations), on the service's registry
 * (src/server/metrics.ts watchHarvest). Counted in the service from the harvest process's per-study messages.
 */
import client from 'prom-client';
import type { HarvestMetrics, HarvestState } from './nightly';

const STATES: readonly HarvestState[] = ['started', 'paused', 'resumed', 'killed', 'ended'];

export function harvestMetrics(registry: client.Registry): HarvestMetrics {
  const registers = [registry];
  const studies = new client.Counter({ name: 'lens_harvest_studies_total', help: 'Studies met by harvest runs, by outcome (harvested, already-harvested, not-analysed, failed)', labelNames: ['outcome'], registers });
  const proposals = new client.Counter({ name: 'lens_harvest_proposals_total', help: 'Candidates proposed and classified by harvest runs', registers });
  const harvested = new client.Counter({ name: 'lens_harvest_lesions_total', help: 'Harvested lesions (new, unlabeled, above the high threshold)', registers });
  const hardNegatives = new client.Counter({ name: 'lens_harvest_hard_negatives_total', help: 'Hard negatives found by harvest runs', registers });
  const bytes = new client.Counter({ name: 'lens_harvest_pacs_bytes_total', help: 'Pixel data read from the PACS by harvest runs, bytes', registers });
  const runs = new client.Histogram({
    name: 'lens_harvest_run_seconds',
    help: 'Run time of harvest runs, by how they ended (done, failed, window, lease, stopping, died)',
    labelNames: ['outcome'],
    buckets: [60, 300, 900, 1800, 3600, 7200, 14400, 28800],
    registers,
  });
  const state = new client.Gauge({ name: 'lens_harvest_state', help: 'The harvest process of this node (1 for its current state; ended: none running)', labelNames: ['state'], registers });
  for (const s of STATES) state.set({ state: s }, s === 'ended' ? 1 : 0);
  return {
    harvestStudy(p) {
      studies.inc({ outcome: p.outcome });
      proposals.inc(p.proposals);
      harvested.inc(p.harvested);
      hardNegatives.inc(p.hardNegatives);
      bytes.inc(p.bytesRead);
    },
    harvestState(s) {
      for (const x of STATES) state.set({ state: x }, x === s ? 1 : 0);
    },
    harvestRunFinished(seconds, outcome) {
      runs.observe({ outcome }, seconds);
    },
  };
}
