/**
 * lens-pacs as a DIMSE client (dcmjs-dimse): C-STORE of Part 10 objects and C-FIND, one association per call.
 * Every request gets a status: one the peer never answered (its presentation context refused, the association
 * dropped) is a failure, never a silent success.
 */
import { fromPart10 } from '../report/part10';
import {
  COMMIT_ACTION_TYPE, commitmentRequestDataset, parseCommitmentReport, STORAGE_COMMITMENT_INSTANCE, STORAGE_COMMITMENT_SOP_CLASS,
  type CommitmentReport, type SopRef,
} from './commitment';
import { dimse, type Association } from './dcmjs-dimse';
import { DIMSE_STATUS, DimseError, hex, isStoredStatus, isTransientStatus } from './errors';

const { Client, Dataset } = dimse;
const { CStoreRequest, CFindRequest, CGetRequest, NActionRequest } = dimse.requests;
const { CStoreResponse, NEventReportResponse } = dimse.responses;

export interface DimsePeer {
  aeTitle: string;
  host: string;
  port: number;
}

export interface ScuOptions {
  callingAeTitle: string;
  timeoutMs: number;
}

type Request = InstanceType<typeof CStoreRequest> | InstanceType<typeof CFindRequest> | InstanceType<typeof CGetRequest> | InstanceType<typeof NActionRequest>;

/** A request the peer sends on our association (a C-GET's C-STORE, a commitment's N-EVENT-REPORT), as the client receives it. */
type Incoming = (request: any, callback: (response: any) => void) => void;

interface AssociationHandlers {
  onStore?: Incoming;
  onEventReport?: Incoming;
  /** Offer SR and SEG storage in the SCP role (C-GET). */
  extraStorageRoles?: boolean;
  /** Keep the association open this long after the last answer (a peer may still send on it). */
  lingerMs?: number;
}

/**
 * Storage SOP classes a C-GET must offer to receive in the SCP role but that dcmjs-dimse's list (which it offers for
 * every C-GET, and which is frozen) lacks: the two lens-pacs writes.
 */
const EXTRA_GET_STORAGE_CLASSES = ['1.2.840.10008.5.1.4.1.1.88.34', '1.2.840.10008.5.1.4.1.1.66.4'];

/**
 * Adds EXTRA_GET_STORAGE_CLASSES with the SCP role to the association the client is about to request. The client
 * builds it inside send() and hands it to its network object on connect; that hand-over is the one place to add
 * contexts with a role (addAdditionalPresentationContext drops roles). False when the library no longer has it.
 */
function offerExtraStorageRoles(client: InstanceType<typeof Client>): boolean {
  const network = (client as unknown as { network?: { sendAssociationRequest(a: Association): void } }).network;
  if (!network || typeof network.sendAssociationRequest !== 'function') return false;
  const original = network.sendAssociationRequest.bind(network);
  network.sendAssociationRequest = (a: Association) => {
    for (const uid of EXTRA_GET_STORAGE_CLASSES) {
      const pc = a.getPresentationContext(a.addPresentationContext(uid));
      pc.addTransferSyntaxUid(dimse.constants.TransferSyntax.ExplicitVRLittleEndian);
      pc.addTransferSyntaxUid(dimse.constants.TransferSyntax.ImplicitVRLittleEndian);
      pc.setProviderRole(true);
    }
    original(a);
  };
  return true;
}

function describe(peer: DimsePeer): string {
  return `${peer.aeTitle}@${peer.host}:${peer.port}`;
}

/** Runs the requests in one association; resolves when it is closed, rejects when it could not be made. */
function associate(peer: DimsePeer, o: ScuOptions, requests: Request[], h: AssociationHandlers = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    for (const r of requests) client.addRequest(r);
    let settled = false;
    const finish = (e?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve();
    };
    const timer = setTimeout(() => {
      try {
        client.abort();
      } catch {
        // not connected yet
      }
      finish(new DimseError(`DICOM peer ${describe(peer)} did not finish within ${o.timeoutMs} ms`, 'timeout', true));
    }, o.timeoutMs);
    client.on('associationRejected', (r: { result?: number; source?: number; reason?: number }) =>
      finish(new DimseError(`DICOM peer ${describe(peer)} refused the association (result ${r?.result}, source ${r?.source}, reason ${r?.reason})`, 'dimse-rejected', r?.result === 2)),
    );
    client.on('networkError', (e: Error) =>
      finish(new DimseError(`DICOM peer ${describe(peer)} unreachable: ${e.message}`, 'pacs-unreachable', true, { cause: e })),
    );
    client.on('closed', () => finish());
    if (h.onStore) client.on('cStoreRequest', h.onStore);
    if (h.onEventReport) client.on('nEventReportRequest', h.onEventReport);
    client.send(peer.host, peer.port, o.callingAeTitle, peer.aeTitle, {
      connectTimeout: o.timeoutMs, associationTimeout: o.timeoutMs, pduTimeout: o.timeoutMs, associationLingerTimeout: h.lingerMs ?? 0,
    });
    if (h.extraStorageRoles && !offerExtraStorageRoles(client)) finish(new DimseError('dcmjs-dimse changed: cannot offer SR/SEG storage for C-GET', 'internal', false));
  });
}

export interface StoreStatus {
  sopInstanceUID: string;
  status: number;
}

/**
 * C-STORE of Part 10 buffers, in the order given (a caller that stores a marker object last relies on it). Throws
 * DimseError naming every object the peer did not store; warnings (B000...) count as stored.
 */
export async function cStore(peer: DimsePeer, objects: { sopInstanceUID: string; part10: Uint8Array }[], o: ScuOptions): Promise<StoreStatus[]> {
  const statuses = new Map<string, number>();
  const requests = objects.map((obj) => {
    const ds = fromPart10(obj.part10);
    const ts = String(ds._meta?.TransferSyntaxUID ?? '1.2.840.10008.1.2.1');
    delete ds._meta;
    const r = new CStoreRequest(new Dataset(ds, ts));
    r.on('response', (resp: { getStatus(): number }) => statuses.set(obj.sopInstanceUID, resp.getStatus()));
    return r;
  });
  await associate(peer, o, requests);
  const result = objects.map((obj) => ({ sopInstanceUID: obj.sopInstanceUID, status: statuses.get(obj.sopInstanceUID) ?? -1 }));
  const failed = result.filter((r) => !isStoredStatus(r.status));
  if (failed.length) {
    const what = failed.map((f) => `${f.sopInstanceUID}: ${f.status === -1 ? 'no answer (SOP class or transfer syntax not accepted)' : `status ${hex(f.status)}`}`);
    throw new DimseError(`C-STORE to ${describe(peer)} failed for ${what.join('; ')}`, 'dimse-store-failed', failed.every((f) => f.status !== -1 && isTransientStatus(f.status)));
  }
  return result;
}

export type FindLevel = 'SERIES' | 'IMAGE';

/** C-FIND (Study Root) at SERIES or IMAGE level: the matches' elements (naturalized keywords). */
export async function cFind(peer: DimsePeer, level: FindLevel, keys: Record<string, unknown>, o: ScuOptions): Promise<Record<string, unknown>[]> {
  const request = level === 'SERIES' ? CFindRequest.createSeriesFindRequest(keys) : CFindRequest.createImageFindRequest(keys);
  const matches: Record<string, unknown>[] = [];
  let final: number | undefined;
  request.on('response', (resp: { getStatus(): number; hasDataset(): boolean; getDataset(): { getElements(): Record<string, unknown> } | undefined }) => {
    const status = resp.getStatus();
    if ((status === 0xff00 || status === 0xff01) && resp.hasDataset()) matches.push(resp.getDataset()!.getElements());
    else if (status !== 0xff00 && status !== 0xff01) final = status;
  });
  await associate(peer, o, [request]);
  if (final === undefined) throw new DimseError(`C-FIND on ${describe(peer)}: no answer (Study Root Query/Retrieve not accepted)`, 'dimse-find-failed', false);
  if (final !== 0) throw new DimseError(`C-FIND on ${describe(peer)} failed with status ${hex(final)}`, 'dimse-find-failed', isTransientStatus(final));
  return matches;
}

/**
 * C-GET of one instance (Study Root, IMAGE level): its dataset (naturalized), or undefined when the peer does not
 * have it or does not offer C-GET (the caller cannot tell then; it is no failure of the job).
 */
export async function cGetInstance(
  peer: DimsePeer, keys: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }, o: ScuOptions,
): Promise<Record<string, unknown> | undefined> {
  const request = CGetRequest.createImageGetRequest(keys.studyInstanceUID, keys.seriesInstanceUID, keys.sopInstanceUID);
  let dataset: Record<string, unknown> | undefined;
  await associate(peer, o, [request], {
    onStore: (incoming, callback) => {
      dataset = incoming.getDataset()?.getElements();
      const response = CStoreResponse.fromRequest(incoming);
      response.setStatus(0);
      callback(response);
    },
    extraStorageRoles: true,
  });
  return dataset;
}

export interface CommitmentRequestResult {
  /** False when the peer refused the Storage Commitment Push Model context: it does not offer commitment. */
  offered: boolean;
  /** The N-ACTION-RSP status (when offered). */
  status?: number;
  /** The report, when the peer sent it on this association before it was released. */
  report?: CommitmentReport;
}

/**
 * A peer that reports on the same association does so right after its N-ACTION-RSP; the association is kept open
 * this long for it (a peer that reports later, on a new association, costs this once per report).
 */
const SAME_ASSOCIATION_REPORT_MS = 500;

/**
 * N-ACTION (Storage Commitment Push Model, action type 1) asking the peer to commit the instances. A report the
 * peer sends back on the same association is read and answered here; one sent later comes to the service's SCP.
 */
export async function requestCommitment(peer: DimsePeer, transactionUID: string, refs: readonly SopRef[], o: ScuOptions): Promise<CommitmentRequestResult> {
  const request = new NActionRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_INSTANCE, COMMIT_ACTION_TYPE);
  request.setDataset(new Dataset(commitmentRequestDataset(transactionUID, refs), dimse.constants.TransferSyntax.ImplicitVRLittleEndian));
  let status: number | undefined;
  let report: CommitmentReport | undefined;
  request.on('response', (resp: { getStatus(): number }) => (status = resp.getStatus()));
  await associate(peer, o, [request], {
    onEventReport: (incoming, callback) => {
      const response = NEventReportResponse.fromRequest(incoming);
      try {
        report = parseCommitmentReport(incoming.getEventTypeId(), incoming.getDataset()?.getElements());
        response.setStatus(DIMSE_STATUS.success);
      } catch (e) {
        response.setStatus(DIMSE_STATUS.processingFailure);
        response.setErrorComment((e as Error).message.slice(0, 64));
      }
      callback(response);
    },
    lingerMs: SAME_ASSOCIATION_REPORT_MS,
  });
  return status === undefined ? { offered: false } : { offered: true, status, report };
}
