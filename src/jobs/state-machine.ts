/**
 * The job life cycle as pure functions, so that every store implementation follows the same rules:
 *
 *   queued ──claim──> running ──> succeeded | skipped | failed (permanent)
 *                        │  └──transient──> failed-retrying ──(due)──claim──> running
 *                        └──transient, attempts exhausted──> dead
 *   running with an expired lease (crashed worker) is claimable again; with attempts exhausted it goes dead.
 */
import { backoffMs, type BackoffPolicy } from './backoff';
import type { Job, JobCompletion, JobState } from './types';

export interface Transition {
  state: JobState;
  nextAttemptAt: number;
  lastError?: string;
  reason?: string;
  finishedAt?: number;
}

const ALLOWED: Record<JobState, readonly JobState[]> = {
  queued: ['running'],
  running: ['running', 'succeeded', 'skipped', 'failed', 'failed-retrying', 'dead'],
  'failed-retrying': ['running'],
  succeeded: [],
  skipped: [],
  failed: [],
  dead: [],
};

export function canTransition(from: JobState, to: JobState): boolean {
  return ALLOWED[from].includes(to);
}

/** Whether a job can be leased now. */
export function isClaimable(job: Pick<Job, 'state' | 'nextAttemptAt' | 'leaseExpiresAt'>, now: number): boolean {
  if (job.state === 'queued' || job.state === 'failed-retrying') return job.nextAttemptAt <= now;
  if (job.state === 'running') return (job.leaseExpiresAt ?? 0) < now;
  return false;
}

/** The state after a worker reports `result` for a job in its `attempts`-th attempt. */
export function afterCompletion(job: Pick<Job, 'attempts' | 'maxAttempts'>, result: JobCompletion, policy: BackoffPolicy, now: number): Transition {
  switch (result.kind) {
    case 'succeeded':
      return { state: 'succeeded', nextAttemptAt: now, finishedAt: now };
    case 'skipped':
      return { state: 'skipped', nextAttemptAt: now, reason: result.reason, lastError: result.message, finishedAt: now };
    case 'failed':
      if (!result.transient) return { state: 'failed', nextAttemptAt: now, reason: result.reason, lastError: result.message, finishedAt: now };
      if (job.attempts >= job.maxAttempts)
        return {
          state: 'dead',
          nextAttemptAt: now,
          reason: result.reason,
          lastError: `gave up after ${job.attempts} attempts: ${result.message}`,
          finishedAt: now,
        };
      return { state: 'failed-retrying', nextAttemptAt: now + backoffMs(job.attempts, policy), reason: result.reason, lastError: result.message };
  }
}

/** A running job whose lease expired: its worker died. Either claim it again or give up. */
export function afterLeaseExpiry(job: Pick<Job, 'attempts' | 'maxAttempts'>, now: number): Transition | undefined {
  if (job.attempts < job.maxAttempts) return undefined;
  return {
    state: 'dead',
    nextAttemptAt: now,
    reason: 'lease-expired',
    lastError: `worker lost ${job.attempts} times (lease expired each time)`,
    finishedAt: now,
  };
}
