/**
 * The job life cycle as pure functions, so that every store implementation follows the same rules:
 *
 *   queued ──claim──> running ──> succeeded | skipped | failed (permanent)
 *                        │  └──transient──> failed-retrying ──(due)──claim──> running
 *                        ├──transient, attempts exhausted──> dead
 *                        └──worker died (lease expired)──> claimable again, or quarantined (poison rule)
 *
 * Two kinds of attempts are counted apart. Attempts that a worker finished (success, skip, failure) count
 * against maxAttempts. Attempts whose worker died (the process was killed or crashed: the lease expired) do not:
 * a study is never lost because the service was killed while analysing it. Deaths are counted by the stage the
 * attempt had entered (the store records it before the stage runs); a job that dies `poisonAfter` times in one
 * stage is a poison suspect (an input that crashes the analysis, e.g. a file that exhausts memory) and is
 * quarantined, so that it cannot crash the service in a loop. The same rule holds for the PACS: an attempt whose
 * PACS requests failed at connection level (pacs-unreachable) while other jobs reached the PACS counts as a PACS
 * fault of its stage; such a job is retried later than an ordinary failure and quarantined after `poisonAfter`
 * faults in one stage (a study whose requests crash the PACS is not sent again and again).
 */
import { backoffMs, type BackoffPolicy } from './backoff';
import type { Job, JobCompletion, JobState } from './types';

export interface Transition {
  state: JobState;
  nextAttemptAt: number;
  lastError?: string;
  reason?: string;
  finishedAt?: number;
  /** The job's deaths by stage after this transition (set when they changed). */
  deaths?: Record<string, number>;
  /** The job's PACS faults by stage after this transition (set when they changed). */
  pacsFaults?: Record<string, number>;
}

export interface PoisonPolicy {
  /** Deaths (or PACS faults) in one stage after which a job is quarantined. */
  poisonAfter: number;
}

/** What a store knows beyond the job itself when an attempt ends. */
export interface CompletionFacts {
  /** Another job reached the PACS (recorded a stage that reads or writes it) since this attempt began. */
  pacsAnsweredOthers?: boolean;
}

/** Deaths in one stage that make a job a poison suspect, unless configured (jobs.poisonAfterDeaths). */
export const DEFAULT_POISON_AFTER = 3;

/** The stage name under which a death before any stage started is counted. */
export const BEFORE_FIRST_STAGE = 'claimed';

const ALLOWED: Record<JobState, readonly JobState[]> = {
  queued: ['running'],
  running: ['running', 'succeeded', 'skipped', 'failed', 'failed-retrying', 'dead', 'quarantined'],
  'failed-retrying': ['running'],
  succeeded: [],
  skipped: [],
  failed: [],
  dead: [],
  quarantined: [],
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

const total = (counts: Record<string, number> = {}) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Attempts that a worker saw to their end: the ones that count against maxAttempts. */
export function finishedAttempts(job: Pick<Job, 'attempts' | 'deaths'>): number {
  return job.attempts - total(job.deaths);
}

/** The state after a worker reports `result` for a job in its `attempts`-th attempt. */
export function afterCompletion(
  job: Pick<Job, 'attempts' | 'maxAttempts' | 'deaths' | 'pacsFaults'>,
  result: JobCompletion,
  policy: BackoffPolicy & Partial<PoisonPolicy>,
  now: number,
  facts: CompletionFacts = {},
): Transition {
  switch (result.kind) {
    case 'succeeded':
      return { state: 'succeeded', nextAttemptAt: now, finishedAt: now };
    case 'skipped':
      return { state: 'skipped', nextAttemptAt: now, reason: result.reason, lastError: result.message, finishedAt: now };
    case 'failed': {
      if (!result.transient) return { state: 'failed', nextAttemptAt: now, reason: result.reason, lastError: result.message, finishedAt: now };
      const attempts = finishedAttempts(job);
      if (result.reason === 'pacs-unreachable' && facts.pacsAnsweredOthers) {
        const stage = result.stage ?? BEFORE_FIRST_STAGE;
        const pacsFaults = { ...job.pacsFaults, [stage]: (job.pacsFaults?.[stage] ?? 0) + 1 };
        if (pacsFaults[stage] >= (policy.poisonAfter ?? DEFAULT_POISON_AFTER))
          return {
            state: 'quarantined', nextAttemptAt: now, finishedAt: now, pacsFaults, reason: 'pacs-poison-suspected',
            lastError: `the PACS failed ${pacsFaults[stage]} times during stage ${stage} of this study while it answered other studies (${result.message}); quarantined so that the study does not bring the PACS down again; re-run it (force) once the cause is fixed`,
          };
        // Later than an ordinary retry: each fault doubles the wait twice more.
        const delay = backoffMs(attempts + 2 * total(pacsFaults), policy);
        return { state: 'failed-retrying', nextAttemptAt: now + delay, pacsFaults, reason: result.reason, lastError: `${result.message} (PACS fault ${pacsFaults[stage]} of this study in stage ${stage})` };
      }
      if (attempts >= job.maxAttempts)
        return {
          state: 'dead',
          nextAttemptAt: now,
          reason: result.reason,
          lastError: `gave up after ${attempts} attempts: ${result.message}`,
          finishedAt: now,
        };
      return { state: 'failed-retrying', nextAttemptAt: now + backoffMs(attempts, policy), reason: result.reason, lastError: result.message };
    }
  }
}

/**
 * A running job whose lease expired: its worker died inside `job.stage`. The death is counted for that stage;
 * the job is claimable again (undefined state: the caller leases it), or quarantined once it has died
 * `poisonAfter` times in that stage.
 */
export function afterLeaseExpiry(
  job: Pick<Job, 'stage' | 'deaths'>,
  policy: PoisonPolicy,
  now: number,
): { stage: string; deaths: Record<string, number>; quarantine?: Transition } {
  const stage = job.stage ?? BEFORE_FIRST_STAGE;
  const deaths = { ...job.deaths, [stage]: (job.deaths?.[stage] ?? 0) + 1 };
  if (deaths[stage] < policy.poisonAfter) return { stage, deaths };
  return {
    stage,
    deaths,
    quarantine: {
      state: 'quarantined',
      nextAttemptAt: now,
      finishedAt: now,
      deaths,
      reason: 'poison-suspected',
      lastError: `poison suspected: the worker died ${deaths[stage]} times in stage ${stage} (process killed or crashed while analysing this study); quarantined so that it cannot crash the service again; re-run it (force) once the cause is fixed`,
    },
  };
}
