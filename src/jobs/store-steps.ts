/**
 * What every store writes around a transition of state-machine.ts, beyond the transition itself: the journey
 * event of an ended attempt and of an expired lease, and the columns a completion fills. Shared by the SQLite and
 * PostgreSQL stores so that both write the same journey and the same results.
 */
import { PACS_CONNECTION_LOST, PACS_POISON_SUSPECTED, type Transition } from './state-machine';
import type { Job, JobCompletion, JourneyEventName } from './types';

export interface JourneyEntry {
  event: JourneyEventName;
  details: Record<string, unknown>;
}

/**
 * Journey events that end a failed attempt, and the reasons of a PACS that failed at connection level: another
 * job's such event during an attempt is the fact pacsFailedOthers of the PACS-fault rule (state-machine.ts).
 */
export const ATTEMPT_END_EVENTS: readonly JourneyEventName[] = ['retry', 'dead', 'error', 'quarantined'];
export const PACS_LOST_REASONS: readonly string[] = ['pacs-unreachable', PACS_CONNECTION_LOST, PACS_POISON_SUSPECTED];

/** The journey event that records how an attempt ended (a success records its stages itself: none). */
export function completionJourney(result: JobCompletion, t: Transition): JourneyEntry | undefined {
  if (result.kind === 'succeeded') return undefined;
  if (result.kind === 'skipped') return { event: 'skipped', details: { reason: result.reason, message: result.message } };
  const event = t.state === 'failed-retrying' ? 'retry' : t.state === 'dead' ? 'dead' : t.state === 'quarantined' ? 'quarantined' : 'error';
  return {
    event,
    details: {
      reason: t.reason, message: t.lastError, transient: result.transient, ...(result.stage ? { stage: result.stage } : {}),
      ...(t.pacsFaults ? { pacsFaults: t.pacsFaults } : {}),
      ...(result.died ? { died: true, deaths: t.deaths } : {}),
      ...(t.state === 'failed-retrying' ? { nextAttemptAt: new Date(t.nextAttemptAt).toISOString() } : {}),
    },
  };
}

/** The journey event of a running job whose lease expired (its service went away). */
export function leaseExpiredJourney(job: Job, t: Transition & { stage: string }): JourneyEntry {
  return { event: 'lease-expired', details: { previousOwner: job.leaseOwner, attempts: job.attempts, stage: t.stage, reason: t.reason } };
}

/** The result columns a completion fills (idempotency, outputs, lesions), or undefined for a failure. */
export function completionColumns(result: JobCompletion): Record<string, string | number | null> | undefined {
  if (result.kind === 'succeeded')
    return {
      idempotency_key: result.idempotencyKey, series_uid: result.seriesInstanceUID, model_version: result.modelVersion,
      outputs: JSON.stringify(result.outputs), lesion_count: result.alreadyStored?.lesionCount ?? result.lesions.length,
      lesions: JSON.stringify(result.lesions), timings: JSON.stringify(result.timingsMs),
    };
  if (result.kind === 'skipped')
    return { idempotency_key: result.idempotencyKey ?? null, series_uid: result.seriesInstanceUID ?? null, model_version: result.modelVersion ?? null };
  return undefined;
}

/** Deaths over all stages (the claim order puts jobs that died after the others). */
export function deathTotal(deaths: Record<string, number>): number {
  return Object.values(deaths).reduce((a, b) => a + b, 0);
}

/**
 * A node record unseen for this long is deleted at the next refresh of any node: every restart makes a new node
 * (host:pid:random), and the API and dashboard would otherwise list the gone ones for ever.
 */
export const NODE_RECORD_KEPT_MS = 24 * 3600 * 1000;
