/**
 * The job life cycle as pure functions, so that every store implementation follows the same rules:
 *
 *   queued ──claim──> running ──> succeeded | skipped | failed (permanent)
 *                        │  └──transient──> failed-retrying ──(due)──claim──> running
 *                        ├──transient, attempts exhausted──> dead
 *                        ├──analysis process died (observed)──> failed-retrying, or quarantined (poison rule)
 *                        └──service lost (lease expired)──> claimable again (worker-lost), never counted
 *
 * A study's analysis runs in a child process of the service (src/worker/). Two kinds of death are told apart by
 * the evidence there is about them:
 *  - an observed death: the service saw its analysis process die (out of memory, a signal, a stall past the
 *    watchdog) while the service itself lived on, and names the cause. That is strong evidence that the study
 *    kills the analysis: it is counted by the stage the attempt had entered, and a job that dies so `poisonAfter`
 *    times in one stage is a poison suspect and quarantined, so that it cannot take the analysis down in a loop.
 *  - a lost worker: the whole service went away (SIGKILL by an operator or a supervisor, a power cut, a node
 *    lost) and its lease expired; nobody saw why. It is recorded as `worker-lost` and the job is taken up again,
 *    counted neither toward quarantine nor toward maxAttempts: a study is never lost to kills of the service.
 * Attempts that a worker finished (success, skip, failure) count against maxAttempts; deaths of either kind do
 * not. The same rule holds for the PACS (afterPacsFault): an attempt whose own request the PACS took and then went
 * away while handling it (pacs-connection-lost: a crash on this study's request), while no other job lost the
 * PACS during the attempt, counts as a PACS fault of its stage; such a job is retried later than an ordinary
 * failure and quarantined after `poisonAfter` faults in one stage (a study whose requests crash the PACS is not sent
 * again and again). A PACS that was down for everyone (refused connections, other jobs failing too) is an outage,
 * waited out by the retry horizon: studies queued behind a poison study are never blamed for its crashes.
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
  /** When the job's current run of transient failures began (retry horizon); null clears it (a re-drive). */
  retryingSince?: number | null;
  /** A re-drive's fresh attempt budget. */
  maxAttempts?: number;
}

export interface PoisonPolicy {
  /** Observed deaths of the analysis (or PACS faults) in one stage after which a job is quarantined. */
  poisonAfter: number;
}

/** What a store knows beyond the job itself when an attempt ends. */
export interface CompletionFacts {
  /**
   * Another job's attempt ended with the PACS unreachable or lost (pacs-unreachable, pacs-connection-lost) since
   * this attempt began: the PACS failed for everyone at once, so this attempt's failure is no evidence against
   * its study.
   */
  pacsFailedOthers?: boolean;
  /** Attempts of this job that ended with the service lost (lease expired, `lease-expired` in its journey). */
  workersLost?: number;
}

/** Observed deaths in one stage that make a job a poison suspect, unless configured (jobs.poisonAfterDeaths). */
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
  // Re-drive (afterRedrive).
  dead: ['queued'],
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

/**
 * Attempts that a worker saw to their end: the ones that count against maxAttempts. Neither observed deaths (the
 * poison rule bounds them) nor attempts lost with the service (`workersLost`) count.
 */
export function finishedAttempts(job: Pick<Job, 'attempts' | 'deaths'>, workersLost = 0): number {
  return job.attempts - total(job.deaths) - workersLost;
}

/** The state after a worker reports `result` for a job in its `attempts`-th attempt. */
export function afterCompletion(
  job: Pick<Job, 'attempts' | 'maxAttempts' | 'deaths' | 'pacsFaults' | 'retryingSince'>,
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
      if (result.died) return afterObservedDeath(job, { ...result, died: true }, policy, now);
      if (!result.transient) return { state: 'failed', nextAttemptAt: now, reason: result.reason, lastError: result.message, finishedAt: now };
      const attempts = finishedAttempts(job, facts.workersLost);
      if (result.reason === PACS_CONNECTION_LOST && !facts.pacsFailedOthers) return afterPacsFault(job, result, attempts, policy, now);
      // Retry horizon: an outage of the PACS (a restart, an upgrade) is waited out, however many attempts it takes.
      const retryingSince = job.retryingSince ?? now;
      if (attempts >= job.maxAttempts && !withinRetryHorizon(retryingSince, policy, now))
        return {
          state: 'dead',
          nextAttemptAt: now,
          reason: result.reason,
          lastError: policy.horizonMinutes
            ? `gave up after ${attempts} attempts over ${formatMinutes(now - retryingSince)} (retry horizon ${policy.horizonMinutes} min): ${result.message}`
            : `gave up after ${attempts} attempts: ${result.message}`,
          finishedAt: now,
          retryingSince,
        };
      return { state: 'failed-retrying', nextAttemptAt: now + backoffMs(attempts, policy), reason: result.reason, lastError: result.message, retryingSince };
    }
  }
}

/** PacsUnreachableError's reason when the PACS dropped the study's own request while handling it (src/pacs/errors.ts). */
export const PACS_CONNECTION_LOST = 'pacs-connection-lost';
/** The reason of a job quarantined by the PACS-fault rule. */
export const PACS_POISON_SUSPECTED = 'pacs-poison-suspected';

/**
 * A PACS fault of the job in `result.stage`: the PACS went away while handling this study's request, alone. Retried
 * later than an ordinary failure (each fault doubles the wait twice more, up to the backoff cap), quarantined as
 * `pacs-poison-suspected` after `poisonAfter` faults in one stage. A fault never makes a job dead (neither
 * maxAttempts nor the retry horizon is checked): the poison rule bounds them. `finished`: finishedAttempts(job).
 */
export function afterPacsFault(
  job: Pick<Job, 'pacsFaults'>,
  result: Extract<JobCompletion, { kind: 'failed' }>,
  finished: number,
  policy: BackoffPolicy & Partial<PoisonPolicy>,
  now: number,
): Transition {
  const stage = result.stage ?? BEFORE_FIRST_STAGE;
  const pacsFaults = { ...job.pacsFaults, [stage]: (job.pacsFaults?.[stage] ?? 0) + 1 };
  const limit = policy.poisonAfter ?? DEFAULT_POISON_AFTER;
  if (pacsFaults[stage] >= limit)
    return {
      state: 'quarantined', nextAttemptAt: now, finishedAt: now, pacsFaults, reason: PACS_POISON_SUSPECTED,
      lastError: `PACS poison suspected: the PACS went away ${pacsFaults[stage]} times while handling this study's requests in stage ${stage}, while other studies did not lose it (last: ${result.message}); quarantined so that the study does not bring the PACS down again; re-run it (force) once the PACS is fixed`,
    };
  return {
    state: 'failed-retrying', nextAttemptAt: now + backoffMs(finished + 2 * total(pacsFaults), policy), pacsFaults, reason: result.reason,
    lastError: `${result.message} (PACS fault ${pacsFaults[stage]} of ${limit} in stage ${stage} before quarantine)`,
  };
}

/**
 * The service saw the job's analysis process die (result.died; its cause in reason and message) in `result.stage`.
 * The death is counted for that stage: the job is retried after a backoff, or quarantined once it has died
 * `poisonAfter` times in that stage.
 */
export function afterObservedDeath(
  job: Pick<Job, 'deaths'>,
  result: Extract<JobCompletion, { kind: 'failed' }> & { died: true },
  policy: BackoffPolicy & Partial<PoisonPolicy>,
  now: number,
): Transition {
  const stage = result.stage ?? BEFORE_FIRST_STAGE;
  const deaths = { ...job.deaths, [stage]: (job.deaths?.[stage] ?? 0) + 1 };
  const limit = policy.poisonAfter ?? DEFAULT_POISON_AFTER;
  if (deaths[stage] >= limit)
    return {
      state: 'quarantined', nextAttemptAt: now, finishedAt: now, deaths, reason: 'poison-suspected',
      lastError: `poison suspected: the analysis died ${deaths[stage]} times in stage ${stage} (last: ${result.message}); quarantined so that it cannot take the analysis down again; re-run it (force) once the cause is fixed`,
    };
  return {
    state: 'failed-retrying', nextAttemptAt: now + backoffMs(deaths[stage], policy), deaths, reason: result.reason,
    lastError: `${result.message} (death ${deaths[stage]} of ${limit} in stage ${stage} before quarantine)`,
  };
}

/**
 * A running job whose lease expired: the service that held it went away (killed, crashed, its node lost) inside
 * `job.stage`, and nobody observed why. No evidence against the study: the job is claimable again at once, its
 * deaths and attempts left as they were (the store counts the `lease-expired` events as workersLost).
 */
export function afterLeaseExpiry(job: Pick<Job, 'stage'>, now: number): Transition & { stage: string } {
  const stage = job.stage ?? BEFORE_FIRST_STAGE;
  return {
    stage, state: 'failed-retrying', nextAttemptAt: now, reason: 'worker-lost',
    lastError: `the service running this job went away in stage ${stage} (lease expired); taken up again`,
  };
}

/**
 * Whether a job failing transiently since `retryingSince` is still within the retry horizon (policy.horizonMinutes,
 * jobs.retryHorizonMinutes): until then it is retried even after maxAttempts. No horizon: maxAttempts alone.
 */
export function withinRetryHorizon(retryingSince: number, policy: Pick<BackoffPolicy, 'horizonMinutes'>, now: number): boolean {
  return now - retryingSince < (policy.horizonMinutes ?? 0) * 60000;
}

function formatMinutes(ms: number): string {
  const min = ms / 60000;
  return min >= 120 ? `${(min / 60).toFixed(1)} h` : min >= 1 ? `${Math.round(min)} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * Re-drive of a dead job (an operator, through the API): queued now with a fresh budget of `maxAttempts`
 * attempts and a new retry horizon; its history (attempts, deaths, journey) stays.
 */
export function afterRedrive(job: Pick<Job, 'state' | 'attempts'>, maxAttempts: number, now: number): Transition {
  if (!canTransition(job.state, 'queued')) throw new Error(`a ${job.state} job cannot be re-driven (only dead ones)`);
  return { state: 'queued', nextAttemptAt: now, retryingSince: null, maxAttempts: job.attempts + maxAttempts };
}
