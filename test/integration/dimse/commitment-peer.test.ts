/**
 * Storage commitment with a peer that sends its report on the same association, right after its N-ACTION-RSP
 * (Orthanc, in dimse.test.ts, always uses a new association; DCMTK has no commitment SCP). The peer is a small
 * DIMSE SCP on a loopback port built with dcmjs-dimse, the library lens-pacs itself uses: real associations, real
 * PDUs. It commits what exists in its `held` set and reports the rest as failed (0x0112).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { commitStored } from '../../../src/dimse/commit';
import { EVENT_ALL_COMMITTED, EVENT_SOME_FAILED, STORAGE_COMMITMENT_SOP_CLASS } from '../../../src/dimse/commitment';
import { CommitmentReports } from '../../../src/dimse/commitment-reports';
import { dimse } from '../../../src/dimse/dcmjs-dimse';

const { Scp, Dataset } = dimse;
const { NActionResponse } = dimse.responses;
const { NEventReportRequest } = dimse.requests;
const { PresentationContextResult, TransferSyntax } = dimse.constants;

const held = new Set(['2.25.11']);
let server: net.Server;
let port: number;
let dir: string;

class SameAssociationPeer extends Scp {
  override associationRequested(association: any): void {
    for (const { context } of association.getPresentationContexts()) {
      if (context.getAbstractSyntaxUid() === STORAGE_COMMITMENT_SOP_CLASS) context.setResult(PresentationContextResult.Accept, TransferSyntax.ImplicitVRLittleEndian);
      else context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
    }
    this.sendAssociationAccept();
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  override nActionRequest(request: any, callback: (r: any) => void): void {
    const response = NActionResponse.fromRequest(request);
    response.setStatus(0);
    callback(response);
    const asked = request.getDataset().getElements();
    const refs = [asked.ReferencedSOPSequence].flat() as { ReferencedSOPClassUID: string; ReferencedSOPInstanceUID: string }[];
    const ok = refs.filter((r) => held.has(r.ReferencedSOPInstanceUID));
    const failed = refs.filter((r) => !held.has(r.ReferencedSOPInstanceUID)).map((r) => ({ ...r, FailureReason: 0x0112 }));
    const report = new NEventReportRequest(STORAGE_COMMITMENT_SOP_CLASS, '1.2.840.10008.1.20.1.1', failed.length ? EVENT_SOME_FAILED : EVENT_ALL_COMMITTED);
    report.setDataset(new Dataset({ TransactionUID: asked.TransactionUID, ReferencedSOPSequence: ok, ...(failed.length ? { FailedSOPSequence: failed } : {}) }, TransferSyntax.ImplicitVRLittleEndian));
    this.sendRequests(report);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-commit-peer-'));
  server = net.createServer((socket) => {
    const scp = new SameAssociationPeer(socket, {});
    scp.on('networkError', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const peer = () => ({ aeTitle: 'SYNCPACS', host: '127.0.0.1', port });
const scu = { callingAeTitle: 'LENSAI', timeoutMs: 10000 };
const SR = { sopClassUID: '1.2.840.10008.5.1.4.1.1.88.34', sopInstanceUID: '2.25.11' };
const SEG = { sopClassUID: '1.2.840.10008.5.1.4.1.1.66.4', sopInstanceUID: '2.25.12' };

test('a report on the same association is read there: committed without the service SCP', async () => {
  // Nothing ever arrives in the mailbox: only the same-association report can make this succeed in time.
  const reports = new CommitmentReports(dir);
  const r = await commitStored(peer(), [SR], scu, { mode: 'on', timeoutMs: 1000, reports });
  expect(r).toMatchObject({ state: 'committed', instances: 1, reportedOn: 'same association' });
});

test('an instance the peer does not hold is named as not committed, with its failure reason', async () => {
  const reports = new CommitmentReports(dir);
  const err = await commitStored(peer(), [SEG, SR], scu, { mode: 'on', timeoutMs: 1000, reports }).catch((e) => e);
  expect(err).toMatchObject({ reason: 'dimse-commitment-failed', transient: true });
  expect(err.message).toMatch(/did not commit 2\.25\.12 \(failure reason 0x0112\)$/);
});
