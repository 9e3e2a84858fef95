/**
 * The service's C-STORE SCP (dcmjs-dimse): its own AE title, C-ECHO, an allow-list of calling AE titles, a bound
 * on open associations, and received instances written durably (received-files.ts) before the sender hears
 * success. The dataset is streamed to a temp file exactly as it arrived (behind a File Meta header), read back for
 * its StudyInstanceUID with the project's bounded Part 10 reader, then moved into its study's folder under the
 * study tracker's quota. Refusals are DIMSE statuses the sender understands: A700 (out of resources: disk
 * watermark, quotas), C000 (cannot understand: not DICOM, no study UID), 0110 (our own I/O failed).
 * The destination of results (dimse.destination) may associate to send storage commitment reports (N-EVENT-REPORT),
 * and only those: they are left for the waiting job in commitment-reports.ts.
 */
import fs from 'node:fs';
import net from 'node:net';
import { Writable } from 'node:stream';
import { SUPPORTED_TRANSFER_SYNTAXES } from '../dicom/decode';
import { readPart10 } from '../dicom/part10';
import { LensError } from '../errors';
import { log } from '../log';
import { parseCommitmentReport, STORAGE_COMMITMENT_SOP_CLASS } from './commitment';
import type { CommitmentReports } from './commitment-reports';
import { dimse, type Association, type CStoreRequest, type PresentationContext } from './dcmjs-dimse';
import { DIMSE_STATUS, hex } from './errors';
import { fileMetaHeader } from './file-meta';
import { isUidLike, type ReceivedFiles } from './received-files';
import type { ReceivedStudyTracker } from './study-tracker';

const { Scp, Dataset } = dimse;
const { CEchoResponse, CStoreResponse, NEventReportResponse } = dimse.responses;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason, SopClass, TransferSyntax } = dimse.constants;

/** Every storage SOP class lives under this root (PS3.4 B.5); the select stage later picks the CT series. */
const STORAGE_ROOT = '1.2.840.10008.5.1.4.1.1.';
/** Offered syntaxes taken in this order: uncompressed first (no decoding), then what decodeFrame reads. */
const PREFERRED_SYNTAXES = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian, ...SUPPORTED_TRANSFER_SYNTAXES];

export interface DimseScpOptions {
  aeTitle: string;
  host: string;
  port: number;
  allowedCallingAeTitles: readonly string[];
  maxAssociations: number;
  /** No single instance may be larger (it could not fit a study either). */
  maxInstanceBytes: number;
  files: ReceivedFiles;
  tracker: Pick<ReceivedStudyTracker, 'admit' | 'totalBytes'>;
  maxTotalBytes: number;
  /** Why instances are refused now (the intake gate's disk watermark), or undefined while intake is open. */
  intakeClosed(): string | undefined;
  /** The peer whose storage commitment reports are accepted (dimse.destination), and where they are left. */
  commitmentFrom?: { aeTitle: string; reports: Pick<CommitmentReports, 'record'> };
}

/** What an association may do, by its calling AE title. */
interface Permissions {
  store: boolean;
  commitmentReports: boolean;
}

interface StoreOutcome {
  status: number;
  comment?: string;
}

export class DimseScp {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly outcomes = new WeakMap<CStoreRequest, Promise<StoreOutcome>>();
  private boundPort = 0;

  constructor(private readonly o: DimseScpOptions) {}

  get port(): number {
    return this.boundPort;
  }

  /** Listens on the configured host only (dcmjs-dimse's own Server binds every interface). */
  async start(): Promise<void> {
    const ScpClass = this.scpClass();
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      const scp = new ScpClass(socket, {});
      scp.on('networkError', (e: Error) => {
        log.warn('DICOM association: network error', { error: e.message });
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new LensError(`dimse: cannot listen on ${this.o.host}:${this.o.port} (dimse.host, dimse.port): ${e.message}`, 'dimse-listen')));
      server.listen(this.o.port, this.o.host, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    server.on('error', (e) => log.error('DICOM SCP server error', { error: e.message }));
    this.server = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    log.info('DICOM C-STORE SCP listening', { aeTitle: this.o.aeTitle, host: this.o.host, port: this.boundPort, allowed: this.o.allowedCallingAeTitles });
    if (this.o.allowedCallingAeTitles.length === 0) log.warn('dimse.allowedCallingAeTitles is empty: every association is refused');
  }

  /** Stops listening and closes open associations (a sender mid-study retries; nothing unacknowledged was kept). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** dcmjs-dimse wants a class per server; this one closes over the SCP's options. */
  private scpClass() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const owner = this;
    const o = this.o;
    return class LensScp extends Scp {
      private callingAeTitle = '';
      private permissions: Permissions = { store: false, commitmentReports: false };

      override associationRequested(association: Association): void {
        const calling = association.getCallingAeTitle().trim();
        const called = association.getCalledAeTitle().trim();
        this.callingAeTitle = calling;
        const reject = (result: number, source: number, reason: number, why: string) => {
          log.warn('DICOM association refused', { callingAeTitle: calling, calledAeTitle: called, why });
          this.sendAssociationReject(result, source, reason);
        };
        if (called !== o.aeTitle) return reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized, 'called AE title is not ours');
        this.permissions = { store: o.allowedCallingAeTitles.includes(calling), commitmentReports: o.commitmentFrom?.aeTitle === calling };
        if (!this.permissions.store && !this.permissions.commitmentReports) {
          return reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized, 'calling AE title not in dimse.allowedCallingAeTitles');
        }
        if (owner.sockets.size > o.maxAssociations) return reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded, `more than dimse.maxAssociations (${o.maxAssociations}) open`);
        for (const { context } of association.getPresentationContexts()) acceptContext(context, this.permissions);
        log.info('DICOM association accepted', { callingAeTitle: calling });
        this.sendAssociationAccept();
      }

      override associationReleaseRequested(): void {
        this.sendAssociationReleaseResponse();
      }

      override cEchoRequest(request: any, callback: (r: any) => void): void {
        const response = CEchoResponse.fromRequest(request);
        response.setStatus(DIMSE_STATUS.success);
        callback(response);
      }

      override createStoreWritableStream(context: PresentationContext, request: CStoreRequest): Writable {
        const sink = owner.receive(context, request, this.callingAeTitle);
        owner.outcomes.set(request, sink.outcome);
        return sink.stream;
      }

      /** The dataset is on disk; the request carries an empty one (nothing reads it). */
      override createDatasetFromStoreWritableStream(_w: Writable, context: PresentationContext, callback: (d: any) => void): void {
        callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
      }

      override cStoreRequest(request: CStoreRequest, callback: (r: any) => void): void {
        const outcome = owner.outcomes.get(request) ?? Promise.resolve({ status: DIMSE_STATUS.processingFailure, comment: 'no dataset received' });
        void outcome.then((r) => {
          const response = CStoreResponse.fromRequest(request);
          response.setStatus(r.status);
          if (r.comment) response.setErrorComment(r.comment.slice(0, 64));
          callback(response);
        });
      }

      /** A storage commitment report of the destination: left for the job waiting for its transaction. */
      override nEventReportRequest(request: any, callback: (r: any) => void): void {
        const response = NEventReportResponse.fromRequest(request);
        const answer = (status: number, comment?: string) => {
          response.setStatus(status);
          if (comment) response.setErrorComment(comment.slice(0, 64));
          callback(response);
        };
        let report;
        try {
          report = parseCommitmentReport(request.getEventTypeId(), request.getDataset()?.getElements());
        } catch (e) {
          log.warn('storage commitment report refused', { callingAeTitle: this.callingAeTitle, why: (e as Error).message });
          return answer(DIMSE_STATUS.processingFailure, (e as Error).message);
        }
        o.commitmentFrom!.reports.record(report).then(
          () => {
            log.info('storage commitment report received', { callingAeTitle: this.callingAeTitle, transactionUID: report.transactionUID, committed: report.committed.length, failed: report.failed.length });
            answer(DIMSE_STATUS.success);
          },
          (e) => {
            log.error('storage commitment report not recorded', { transactionUID: report.transactionUID, error: (e as Error).message });
            answer(DIMSE_STATUS.processingFailure, 'cannot record the report');
          },
        );
      }

      override abort(): void {
        log.info('DICOM association aborted by the sender', { callingAeTitle: this.callingAeTitle });
      }
    };
  }

  /**
   * A writable for one instance's dataset bytes and the promise of its C-STORE status. Writing never fails the
   * stream (dcmjs-dimse would stall on an errored stream): a failure is remembered, the rest of the bytes are
   * dropped, and the status says what happened.
   */
  private receive(context: PresentationContext, request: CStoreRequest, callingAeTitle: string): { stream: Writable; outcome: Promise<StoreOutcome> } {
    const sopClassUID = String(request.getAffectedSopClassUid() ?? '').replace(/\0/g, '').trim();
    const sopInstanceUID = String(request.getAffectedSopInstanceUid() ?? '').replace(/\0/g, '').trim();
    const transferSyntaxUID = context.getAcceptedTransferSyntaxUid() ?? TransferSyntax.ImplicitVRLittleEndian;
    let refusal: StoreOutcome | undefined = this.refusalNow(sopInstanceUID);
    const tmp = this.o.files.newTempFile();
    let handle: fs.promises.FileHandle | undefined;
    let bytes = 0;
    const fail = (status: number, comment: string) => (refusal ??= { status, comment });
    const stream = new Writable({
      construct: (cb) => {
        if (refusal) return cb();
        fs.promises
          .open(tmp, 'wx')
          .then(async (h) => {
            handle = h;
            await h.write(fileMetaHeader({ sopClassUID, sopInstanceUID, transferSyntaxUID, sourceAeTitle: callingAeTitle }));
          })
          .catch((e) => fail(DIMSE_STATUS.processingFailure, `cannot write: ${(e as NodeJS.ErrnoException).code ?? e}`))
          .finally(() => cb());
      },
      write: (chunk: Buffer, _enc, cb) => {
        bytes += chunk.length;
        if (!refusal && bytes > this.o.maxInstanceBytes) fail(DIMSE_STATUS.outOfResources, 'instance larger than dimse.maxStudyMb');
        if (refusal || !handle) return cb();
        handle.write(chunk).then(
          () => cb(),
          (e) => {
            fail(DIMSE_STATUS.processingFailure, `cannot write: ${(e as NodeJS.ErrnoException).code ?? e}`);
            cb();
          },
        );
      },
      final: (cb) => {
        if (!handle) return cb();
        const h = handle;
        (refusal ? Promise.resolve() : h.sync())
          .catch((e) => fail(DIMSE_STATUS.processingFailure, `cannot sync: ${(e as NodeJS.ErrnoException).code ?? e}`))
          .finally(() => h.close().finally(() => cb()));
      },
    });
    const outcome = new Promise<void>((resolve) => stream.once('finish', () => resolve()))
      .then(() => (refusal ? refusal : this.keep(tmp, sopInstanceUID, bytes)))
      .catch((e): StoreOutcome => ({ status: DIMSE_STATUS.processingFailure, comment: (e as Error).message }))
      .then(async (r) => {
        if (r.status !== DIMSE_STATUS.success) {
          await fs.promises.rm(tmp, { force: true });
          log.warn('C-STORE refused', { callingAeTitle, sopInstanceUID, status: hex(r.status), why: r.comment });
        }
        return r;
      });
    return { stream, outcome };
  }

  /** Refusals known before the dataset arrives: a bad SOP Instance UID, the disk watermark, a full folder. */
  private refusalNow(sopInstanceUID: string): StoreOutcome | undefined {
    if (!isUidLike(sopInstanceUID)) return { status: DIMSE_STATUS.cannotUnderstand, comment: 'AffectedSOPInstanceUID is not a UID' };
    const closed = this.o.intakeClosed();
    if (closed) return { status: DIMSE_STATUS.outOfResources, comment: closed };
    if (this.o.tracker.totalBytes >= this.o.maxTotalBytes) return { status: DIMSE_STATUS.outOfResources, comment: 'received studies at dimse.maxTotalMb' };
    return undefined;
  }

  /** Reads the study UID from the fsynced temp file and moves it into the study's folder under its quota. */
  private async keep(tmp: string, sopInstanceUID: string, datasetBytes: number): Promise<StoreOutcome> {
    const r = readPart10(await fs.promises.readFile(tmp), { headerOnly: true });
    if (typeof r === 'string') return { status: DIMSE_STATUS.cannotUnderstand, comment: r };
    const study = String(r.dataset.StudyInstanceUID ?? '').replace(/\0/g, '').trim();
    if (!isUidLike(study)) return { status: DIMSE_STATUS.cannotUnderstand, comment: 'no valid StudyInstanceUID' };
    const refused = await this.o.tracker.admit(study, datasetBytes, () => this.o.files.commit(tmp, study, sopInstanceUID));
    return refused ? { status: DIMSE_STATUS.outOfResources, comment: refused } : { status: DIMSE_STATUS.success };
  }
}

/**
 * Verification, and every storage SOP class for senders on the allow-list or Storage Commitment Push Model (its
 * reports) for the destination, in the first offered syntax of PREFERRED_SYNTAXES. The roles a commitment peer
 * proposes (SCP, for the report it sends) are answered as proposed: dcmjs-dimse echoes the role selection item.
 */
function acceptContext(context: PresentationContext, may: Permissions): void {
  const abstract = context.getAbstractSyntaxUid();
  const wanted = abstract === SopClass.Verification || (may.store && abstract.startsWith(STORAGE_ROOT)) || (may.commitmentReports && abstract === STORAGE_COMMITMENT_SOP_CLASS);
  if (!wanted) {
    context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
    return;
  }
  const offered = context.getTransferSyntaxUids();
  const chosen = PREFERRED_SYNTAXES.find((ts) => offered.includes(ts));
  if (chosen) context.setResult(PresentationContextResult.Accept, chosen);
  else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
}
