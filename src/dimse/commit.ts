/**
 * Storage commitment of what was just sent by C-STORE: the N-ACTION (scu.ts), then the peer's report, on the same
 * association or on a new one to the service's SCP (commitment-reports.ts), read against what was asked
 * (commitment.ts). Its outcome goes into the job's journey ('stored' details): committed, or not offered (the
 * C-FIND confirmation stands); instances the peer failed to commit, or no report in time, fail the job (transient:
 * the retry sends the objects again, under the same UIDs).
 */
import { log } from '../log';
import { commitmentOutcome, newTransactionUID, type CommitmentMode, type SopRef } from './commitment';
import type { CommitmentReports } from './commitment-reports';
import { DimseError, hex, isTransientStatus } from './errors';
import { requestCommitment, type DimsePeer, type ScuOptions } from './scu';

export interface CommitmentOptions {
  mode: CommitmentMode;
  /** How long the peer has to send its report after it accepted the request. */
  timeoutMs: number;
  /** Where the service's SCP leaves reports sent on a new association. */
  reports: Pick<CommitmentReports, 'take'>;
}

/** The journey's record of a commitment (no patient data: UIDs of our own objects and counts). */
export type CommitmentRecord =
  | { state: 'committed'; transactionUID: string; instances: number; reportedOn: 'same association' | 'new association' }
  | { state: 'not offered' };

/** Commits the objects at the peer, or says it does not offer commitment; throws DimseError when it does not commit them. */
export async function commitStored(peer: DimsePeer, refs: readonly SopRef[], scu: ScuOptions, c: CommitmentOptions): Promise<CommitmentRecord> {
  const transactionUID = newTransactionUID();
  const asked = await requestCommitment(peer, transactionUID, refs, scu);
  const who = `${peer.aeTitle}@${peer.host}:${peer.port}`;
  if (!asked.offered) {
    if (c.mode === 'on') {
      throw new DimseError(`${who} does not offer storage commitment (dimse.destination.storageCommitment is 'on')`, 'dimse-commitment-not-offered', false);
    }
    return { state: 'not offered' };
  }
  if (asked.status !== 0) {
    throw new DimseError(`${who} refused the storage commitment request: N-ACTION status ${hex(asked.status!)}`, 'dimse-commitment-refused', isTransientStatus(asked.status!));
  }
  let reportedOn: 'same association' | 'new association' = 'same association';
  let report = asked.report;
  if (!report) {
    reportedOn = 'new association';
    report = await c.reports.take(transactionUID, c.timeoutMs);
  }
  if (!report) {
    throw new DimseError(
      `${who} sent no storage commitment report within ${c.timeoutMs} ms (transaction ${transactionUID}; the peer must know this service's AE title, host and port)`,
      'dimse-commitment-timeout', true,
    );
  }
  const outcome = commitmentOutcome(refs, report);
  if (outcome.failed.length) {
    const what = outcome.failed.map((f) => `${f.sopInstanceUID}${f.reason === undefined ? ' (not in the report)' : ` (failure reason ${hex(f.reason)})`}`);
    throw new DimseError(`${who} did not commit ${what.join('; ')}`, 'dimse-commitment-failed', true);
  }
  log.info('storage commitment confirmed', { peer: who, transactionUID, instances: outcome.committed.length, reportedOn });
  return { state: 'committed', transactionUID, instances: outcome.committed.length, reportedOn };
}
