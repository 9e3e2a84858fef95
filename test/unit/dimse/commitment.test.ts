/**
 * Storage commitment, the pure parts (src/dimse/commitment.ts) and the work-dir mailbox that carries a report from
 * the service's SCP to the waiting analysis process (src/dimse/commitment-reports.ts). The exchange with a real peer
 * (Orthanc) is in test/integration/dimse/dimse.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isValidUid } from '../../../src/dicom/uid';
import {
  commitmentOutcome, commitmentRequestDataset, CommitmentReportError, newTransactionUID, parseCommitmentReport, type SopRef,
} from '../../../src/dimse/commitment';
import { CommitmentReports } from '../../../src/dimse/commitment-reports';

const SR: SopRef = { sopClassUID: '1.2.840.10008.5.1.4.1.1.88.34', sopInstanceUID: '2.25.101' };
const SEG: SopRef = { sopClassUID: '1.2.840.10008.5.1.4.1.1.66.4', sopInstanceUID: '2.25.102' };
const TX = '2.25.777';

test('a request names its transaction and every instance with its SOP class; transaction UIDs are valid and new', () => {
  expect(commitmentRequestDataset(TX, [SEG, SR])).toEqual({
    TransactionUID: TX,
    ReferencedSOPSequence: [
      { ReferencedSOPClassUID: SEG.sopClassUID, ReferencedSOPInstanceUID: SEG.sopInstanceUID },
      { ReferencedSOPClassUID: SR.sopClassUID, ReferencedSOPInstanceUID: SR.sopInstanceUID },
    ],
  });
  const a = newTransactionUID();
  expect(isValidUid(a)).toBe(true);
  expect(newTransactionUID()).not.toBe(a);
});

test('a report: committed and failed instances (with the reason), a one-item sequence read as a list', () => {
  const report = parseCommitmentReport(2, {
    TransactionUID: `${TX}\0`,
    ReferencedSOPSequence: { ReferencedSOPClassUID: SEG.sopClassUID, ReferencedSOPInstanceUID: SEG.sopInstanceUID },
    FailedSOPSequence: [{ ReferencedSOPClassUID: SR.sopClassUID, ReferencedSOPInstanceUID: SR.sopInstanceUID, FailureReason: 0x0112 }],
  });
  expect(report).toEqual({ transactionUID: TX, committed: [SEG.sopInstanceUID], failed: [{ sopInstanceUID: SR.sopInstanceUID, reason: 0x0112 }] });
  expect(commitmentOutcome([SEG, SR], report)).toEqual({ committed: [SEG.sopInstanceUID], failed: [{ sopInstanceUID: SR.sopInstanceUID, reason: 0x0112 }] });
});

test('an instance the report does not name, or names as both committed and failed, is not committed', () => {
  const onlySeg = parseCommitmentReport(1, { TransactionUID: TX, ReferencedSOPSequence: [{ ReferencedSOPInstanceUID: SEG.sopInstanceUID }] });
  expect(commitmentOutcome([SEG, SR], onlySeg)).toEqual({ committed: [SEG.sopInstanceUID], failed: [{ sopInstanceUID: SR.sopInstanceUID, reason: undefined }] });
  const both = { transactionUID: TX, committed: [SR.sopInstanceUID], failed: [{ sopInstanceUID: SR.sopInstanceUID, reason: 0x0110 }] };
  expect(commitmentOutcome([SR], both).committed).toEqual([]);
  const all = { transactionUID: TX, committed: [SR.sopInstanceUID, SEG.sopInstanceUID], failed: [] };
  expect(commitmentOutcome([SEG, SR], all)).toEqual({ committed: [SEG.sopInstanceUID, SR.sopInstanceUID], failed: [] });
});

test('what is not a commitment report is refused with the reason', () => {
  expect(() => parseCommitmentReport(3, { TransactionUID: TX })).toThrow(/event type 3/);
  expect(() => parseCommitmentReport(1, { ReferencedSOPSequence: [] })).toThrow(CommitmentReportError);
  expect(() => parseCommitmentReport(1, undefined)).toThrow(/TransactionUID/);
});

describe('the work-dir mailbox between the SCP and the waiting job', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-commit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a report recorded while the job waits is taken once; none in time is undefined', async () => {
    const reports = new CommitmentReports(dir);
    await reports.prepare();
    const report = { transactionUID: TX, committed: [SR.sopInstanceUID], failed: [] };
    const waiting = reports.take(TX, 5000);
    setTimeout(() => void reports.record(report), 300);
    expect(await waiting).toEqual(report);
    expect(fs.readdirSync(reports.dir)).toEqual([]);
    expect(await reports.take(TX, 250)).toBeUndefined();
    expect(await reports.take('2.25.1', 5000, () => true)).toBeUndefined();
    await expect(reports.take('../x', 10)).rejects.toThrow(/not a Transaction UID/);
  });

  test('reports nobody took are removed at start once old', async () => {
    const reports = new CommitmentReports(dir);
    await reports.record({ transactionUID: '2.25.1', committed: [], failed: [] });
    await reports.record({ transactionUID: '2.25.2', committed: [], failed: [] });
    const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    fs.utimesSync(path.join(reports.dir, '2.25.1.json'), old, old);
    await reports.prepare();
    expect(fs.readdirSync(reports.dir)).toEqual(['2.25.2.json']);
  });
});
