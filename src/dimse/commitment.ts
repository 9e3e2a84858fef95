/**
 * Storage Commitment Push Model (PS3.4 Annex J), the pure parts: the N-ACTION request's dataset, the N-EVENT-REPORT
 * read into a report, and the outcome of a transaction against the instances it asked about. After the SR and SEG
 * were sent by C-STORE, lens-pacs asks the destination to take responsibility for them (N-ACTION, action type 1);
 * the peer answers later with an N-EVENT-REPORT (event type 1: all committed, 2: some failed), on the same
 * association or on a new one to lens-pacs' own SCP (commitment-reports.ts carries it to the waiting job).
 */
import { randomUUID } from 'node:crypto';
import { isValidUid } from '../dicom/uid';
import { LensError } from '../errors';

export const STORAGE_COMMITMENT_SOP_CLASS = '1.2.840.10008.1.20.1';
/** The well-known SOP instance every N-ACTION of the push model addresses. */
export const STORAGE_COMMITMENT_INSTANCE = '1.2.840.10008.1.20.1.1';
export const COMMIT_ACTION_TYPE = 1;
export const EVENT_ALL_COMMITTED = 1;
export const EVENT_SOME_FAILED = 2;

/** When commitment is asked for: 'auto' where the peer accepts the SOP class, 'on' always (a peer without it fails), 'off' never. */
export type CommitmentMode = 'auto' | 'on' | 'off';

export interface SopRef {
  sopClassUID: string;
  sopInstanceUID: string;
}

export interface CommitmentReport {
  transactionUID: string;
  committed: string[];
  /** With the peer's Failure Reason (PS3.4 J.3.2.1.1.2, e.g. 0x0112 no such object instance). */
  failed: { sopInstanceUID: string; reason?: number }[];
}

export interface CommitmentOutcome {
  committed: string[];
  /** Failed by the peer, or not named in its report at all (reason undefined). */
  failed: { sopInstanceUID: string; reason?: number }[];
}

export class CommitmentReportError extends LensError {
  constructor(message: string) {
    super(message, 'dimse-commitment-report', false);
  }
}

/** A Transaction UID of its own for every request (2.25 form): a report names the request it answers. */
export function newTransactionUID(): string {
  return `2.25.${BigInt('0x' + randomUUID().replace(/-/g, '')).toString(10)}`;
}

/** The N-ACTION-RQ dataset (naturalized keywords, as dcmjs-dimse's Dataset takes them). */
export function commitmentRequestDataset(transactionUID: string, refs: readonly SopRef[]): Record<string, unknown> {
  return {
    TransactionUID: transactionUID,
    ReferencedSOPSequence: refs.map((r) => ({ ReferencedSOPClassUID: r.sopClassUID, ReferencedSOPInstanceUID: r.sopInstanceUID })),
  };
}

function text(v: unknown): string {
  return String(v ?? '').replace(/\0/g, '').trim();
}

function items(v: unknown): Record<string, unknown>[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object');
}

/** The N-EVENT-REPORT-RQ's event type and dataset as a report; a report that is not one is refused with a reason. */
export function parseCommitmentReport(eventTypeId: number, dataset: Record<string, unknown> | undefined): CommitmentReport {
  if (eventTypeId !== EVENT_ALL_COMMITTED && eventTypeId !== EVENT_SOME_FAILED) {
    throw new CommitmentReportError(`storage commitment report with event type ${eventTypeId} (expected 1 or 2)`);
  }
  const transactionUID = text(dataset?.TransactionUID);
  if (!isValidUid(transactionUID)) throw new CommitmentReportError('storage commitment report without a valid TransactionUID');
  const committed = items(dataset?.ReferencedSOPSequence).map((i) => text(i.ReferencedSOPInstanceUID)).filter(isValidUid);
  const failed = items(dataset?.FailedSOPSequence)
    .map((i) => ({ sopInstanceUID: text(i.ReferencedSOPInstanceUID), reason: typeof i.FailureReason === 'number' ? i.FailureReason : undefined }))
    .filter((f) => isValidUid(f.sopInstanceUID));
  return { transactionUID, committed, failed };
}

/**
 * What the report says of the instances the request named: committed only when the peer listed it as committed
 * and not as failed; an instance the report does not mention is failed (the peer took no responsibility for it).
 */
export function commitmentOutcome(asked: readonly SopRef[], report: CommitmentReport): CommitmentOutcome {
  const committed = new Set(report.committed);
  const failedBy = new Map(report.failed.map((f) => [f.sopInstanceUID, f.reason]));
  const out: CommitmentOutcome = { committed: [], failed: [] };
  for (const { sopInstanceUID } of asked) {
    if (committed.has(sopInstanceUID) && !failedBy.has(sopInstanceUID)) out.committed.push(sopInstanceUID);
    else out.failed.push({ sopInstanceUID, reason: failedBy.get(sopInstanceUID) });
  }
  return out;
}
