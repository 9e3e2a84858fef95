/**
 * The DICOMweb client of lens-pacs: QIDO-RS, WADO-RS and STOW-RS on dicomweb-client, with what a service needs
 * around it: authentication, timeouts, retries with backoff for transient failures only, a concurrency limit for
 * frame retrieval, STOW-RS responses read instance by instance, and errors that name the URL.
 *
 * Frames are asked for as uncompressed Explicit VR Little Endian. Where the server cannot transcode (Orthanc
 * 1.10.1 from Debian answers 500 for JPEG 2000, see docs/pacs.md) the frame is asked for again in its stored
 * transfer syntax (`transfer-syntax=*`) and decoded here; the series is then remembered so that its other frames
 * go straight to the stored syntax.
 */
import { api } from 'dicomweb-client';
import type { LensConfig, AuthConfig } from '../config/schema';
import { decodeFrame, type FramePixels } from '../dicom/decode';
import type { InstanceHeader } from '../dicom/instance-header';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax';
import { log } from '../log';
import type { SeriesSummary } from '../source/study-source';
import { PacsHttpError, PacsUnreachableError, StoreError } from './errors';
import { createLimiter, type Limiter } from './limiter';
import { NodeXhr } from './node-xhr';
import { backoffDelayMs, isDropped, isTransient, parseRetryAfter, sleep, type AttemptFailure } from './retry';
import { describePart10, interpretStowResponse, type StoreResult } from './stow-response';

export { PacsHttpError, PacsUnreachableError, StoreError } from './errors';
export type { FailedInstance } from './errors';
export type { StoreResult, StoredInstance } from './stow-response';

// dcmjs ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DicomMetaDictionary } = require('dcmjs').data as {
  DicomMetaDictionary: { naturalizeDataset(ds: object): Record<string, any> };
};

export type PacsConfig = LensConfig['pacs'];
/** One DICOM JSON object (PS3.18 F.2): tag -> {vr, Value}. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

export interface PageOptions {
  /** Results per request (QIDO `limit`). */
  limit?: number;
  /** Results to skip (QIDO `offset`). */
  offset?: number;
  /** Page through every match (`limit` is then the page size, 100 by default). */
  all?: boolean;
}

export interface StoreOptions {
  /** Posts to /studies/{uid}: the server rejects instances of other studies. */
  studyInstanceUID?: string;
}

/** HTTP statuses with which a server says it cannot give a frame in the syntax asked for. */
const CANNOT_TRANSCODE = new Set([400, 406, 415, 500, 501]);
/** Bodies of one STOW-RS request stay below this (instances are never split). */
const STOW_BATCH_BYTES = 64 * 1024 * 1024;
const DEFAULT_PAGE = 100;
/** Tries of one request that the PACS may drop (retry.ts isDropped) before the request fails. */
const MAX_DROPS_PER_REQUEST = 2;
const MAX_PAGES = 100000;

type RequestOptions = { instance: XMLHttpRequest };
type HttpFailure = Error & { status?: number; response?: unknown; request?: XMLHttpRequest };

export class DicomWebClient {
  readonly url: string;
  private readonly dw: InstanceType<typeof api.DICOMwebClient>;
  private readonly frameLimiter: Limiter;
  /** Series whose frames the server could not transcode: ask for the stored syntax at once. */
  private readonly storedSyntaxSeries = new Set<string>();

  constructor(private readonly cfg: PacsConfig) {
    this.url = cfg.dicomwebUrl.replace(/\/+$/, '');
    this.dw = new api.DICOMwebClient({ url: this.url, headers: authHeaders(cfg.auth), verbose: false } as any);
    this.frameLimiter = createLimiter(cfg.frameConcurrency);
  }

  /** Frames fetched at the same time at most (config pacs.frameConcurrency). */
  get frameConcurrency(): number {
    return this.cfg.frameConcurrency;
  }

  // ---- QIDO-RS -------------------------------------------------------------------------------------------------

  searchStudies(query: Record<string, string> = {}, opts: PageOptions = {}): Promise<DicomJson[]> {
    return this.paged(query, opts, (q, request) => this.dw.searchForStudies({ ...q, request } as any));
  }

  searchSeries(studyUID: string, query: Record<string, string> = {}, opts: PageOptions = {}): Promise<DicomJson[]> {
    return this.paged(query, opts, (q, request) =>
      this.dw.searchForSeries({ studyInstanceUID: studyUID, ...q, request } as any),
    );
  }

  searchInstances(studyUID: string, seriesUID: string, query: Record<string, string> = {}, opts: PageOptions = {}): Promise<DicomJson[]> {
    return this.paged(query, opts, (q, request) =>
      this.dw.searchForInstances({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, ...q, request } as any),
    );
  }

  private async paged(
    query: Record<string, string>,
    opts: PageOptions,
    // dicomweb-client tests `'queryParams' in options`: absent when empty, or the URL ends in '?'.
    search: (q: { queryParams?: Record<string, string> }, request: RequestOptions) => unknown,
  ): Promise<DicomJson[]> {
    const page = (limit: number | undefined, offset: number | undefined) => {
      const params: Record<string, string> = { ...query };
      if (limit !== undefined) params.limit = String(limit);
      if (offset) params.offset = String(offset);
      return this.request(async (request) => asArray(await search(Object.keys(params).length ? { queryParams: params } : {}, request)));
    };
    if (!opts.all) return page(opts.limit, opts.offset);
    const size = opts.limit ?? DEFAULT_PAGE;
    const out: DicomJson[] = [];
    let offset = opts.offset ?? 0;
    let previousFirst = '';
    // Until an empty page: a server may cap a page below `limit`, so a short page does not prove the end.
    for (let n = 0; n < MAX_PAGES; n++) {
      const results = await page(size, offset);
      if (results.length === 0) return out;
      const first = JSON.stringify(results[0]);
      if (first === previousFirst) {
        throw new Error(`${this.url}: the server ignores the QIDO-RS offset parameter; cannot page through the results`);
      }
      previousFirst = first;
      out.push(...results);
      offset += results.length;
    }
    throw new Error(`${this.url}: more than ${MAX_PAGES} QIDO-RS pages`);
  }

  // ---- WADO-RS -------------------------------------------------------------------------------------------------

  /** Metadata of every instance of a series, naturalized by dcmjs (keywords as keys, bulk data as URIs). */
  async retrieveSeriesMetadata(studyUID: string, seriesUID: string): Promise<Record<string, any>[]> {
    const json = await this.request(async (request) =>
      asArray(await this.dw.retrieveSeriesMetadata({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, request } as any)),
    );
    return json.map((ds) => DicomMetaDictionary.naturalizeDataset(ds));
  }

  /** Metadata of one instance, naturalized: what a single key slice needs, without the whole series'. */
  async retrieveInstanceMetadata(studyUID: string, seriesUID: string, sopUID: string): Promise<Record<string, any>> {
    const json = await this.request(async (request) =>
      asArray(await this.dw.retrieveInstanceMetadata({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, sopInstanceUID: sopUID, request } as any)),
    );
    if (json.length !== 1) throw new Error(`${this.url}: expected the metadata of 1 instance for ${sopUID}, got ${json.length}`);
    return DicomMetaDictionary.naturalizeDataset(json[0]);
  }

  /** One frame's stored values (no rescale), under the frame concurrency limit. */
  retrieveFrame(studyUID: string, seriesUID: string, sopUID: string, frameNumber: number, header: InstanceHeader): Promise<FramePixels> {
    return this.frameLimiter(async () => {
      if (!this.storedSyntaxSeries.has(seriesUID)) {
        try {
          const { bytes, transferSyntaxUID } = await this.fetchFrame(studyUID, seriesUID, sopUID, frameNumber, EXPLICIT_VR_LITTLE_ENDIAN);
          return decodeFrame(bytes, transferSyntaxUID ?? EXPLICIT_VR_LITTLE_ENDIAN, header);
        } catch (e) {
          if (!(e instanceof PacsHttpError && CANNOT_TRANSCODE.has(e.status))) throw e;
          log.info('PACS cannot transcode the frame to Explicit VR Little Endian; asking for the stored transfer syntax', {
            seriesInstanceUID: seriesUID,
            sopInstanceUID: sopUID,
            status: e.status,
          });
        }
      }
      const { bytes, transferSyntaxUID } = await this.fetchFrame(studyUID, seriesUID, sopUID, frameNumber, '*');
      if (!transferSyntaxUID) {
        throw new Error(`${this.url}: frame ${frameNumber} of ${sopUID} came back without a transfer-syntax in its Content-Type`);
      }
      this.storedSyntaxSeries.add(seriesUID);
      return decodeFrame(bytes, transferSyntaxUID, header);
    });
  }

  private async fetchFrame(studyUID: string, seriesUID: string, sopUID: string, frameNumber: number, transferSyntaxUID: string) {
    return this.request(async (request) => {
      const parts = (await this.dw.retrieveInstanceFrames({
          studyInstanceUID: studyUID,
          seriesInstanceUID: seriesUID,
          sopInstanceUID: sopUID,
          frameNumbers: [frameNumber],
          mediaTypes: [{ mediaType: 'application/octet-stream', transferSyntaxUID }],
          request,
        } as any)) as (ArrayBuffer & { transferSyntaxUID?: string | null })[];
      if (parts.length !== 1) throw new Error(`${this.url}: expected 1 frame for ${sopUID} frame ${frameNumber}, got ${parts.length} parts`);
      // The part's own Content-Type first; Orthanc also puts the syntax into the message's type parameter.
      const ts = parts[0].transferSyntaxUID ?? transferSyntaxFrom(request.instance.getResponseHeader('Content-Type'));
      return { bytes: new Uint8Array(parts[0]), transferSyntaxUID: ts ?? (transferSyntaxUID === '*' ? undefined : transferSyntaxUID) };
    });
  }

  // ---- STOW-RS -------------------------------------------------------------------------------------------------

  /**
   * Stores Part 10 instances. Resolves when every instance was stored; otherwise throws StoreError listing every
   * instance that was not, with the server's reason (after storing the rest).
   */
  async storeInstances(part10: ArrayBuffer[], opts: StoreOptions = {}): Promise<StoreResult> {
    const url = `${this.url}/studies${opts.studyInstanceUID ? `/${opts.studyInstanceUID}` : ''}`;
    const result: StoreResult = { stored: [], failed: [] };
    for (const batch of batches(part10, STOW_BATCH_BYTES)) {
      const sent = batch.map(({ buf, index }) => ({ ...describePart10(buf, index), index }));
      const { status, body } = await this.request(async (request) => {
        try {
          // dicomweb-client tests `'studyInstanceUID' in options`: an undefined value would post to /studies/undefined.
          const target = opts.studyInstanceUID ? { studyInstanceUID: opts.studyInstanceUID } : {};
          const text = await this.dw.storeInstances({ datasets: batch.map((b) => b.buf), ...target, request } as any);
          return { status: request.instance.status, body: parseJson(text) };
        } catch (e) {
          // Orthanc answers 400/409 with a STOW-RS body when some parts failed: read it instead of giving up.
          const f = e as HttpFailure;
          const parsed = parseJson(f.response);
          if (f.status && f.status >= 400 && f.status < 500 && isStowBody(parsed)) return { status: f.status, body: parsed };
          throw e;
        }
      });
      const r = interpretStowResponse(body, sent, status);
      result.stored.push(...r.stored);
      result.failed.push(...r.failed);
    }
    if (result.failed.length) throw new StoreError(url, result.failed, result.stored.length);
    return result;
  }

  // ---- transport -----------------------------------------------------------------------------------------------

  /**
   * Runs one dicomweb-client call with a fresh XMLHttpRequest per attempt, retrying transient failures with
   * exponential backoff and mapping the last failure to PacsUnreachableError or PacsHttpError.
   */
  private async request<T>(call: (request: RequestOptions) => Promise<T>): Promise<T> {
    const attempts = this.cfg.retries + 1;
    // A request the PACS dropped twice (it went away while handling it: maybe this request crashes it) is not sent
    // a third time: one retry cures a stale connection, more would only bring a crashing PACS down again.
    let dropped = 0;
    for (let attempt = 1; ; attempt++) {
      const xhr = new NodeXhr();
      xhr.timeout = this.cfg.timeoutMs;
      try {
        return await call({ instance: xhr });
      } catch (e) {
        const err = e as HttpFailure;
        if (typeof err?.status !== 'number') throw e; // not an HTTP exchange failure: a bug or bad input
        const failure: AttemptFailure = {
          status: err.status,
          networkError: err.status === 0 ? (xhr.networkError ?? 'no response') : undefined,
          retryAfterSeconds: err.status ? parseRetryAfter(safeHeader(xhr, 'Retry-After')) : undefined,
        };
        if (isDropped(failure)) dropped++;
        if (isTransient(failure) && attempt < attempts && dropped < MAX_DROPS_PER_REQUEST) {
          const wait = backoffDelayMs(attempt - 1, { baseMs: this.cfg.retryBaseMs }, failure);
          log.warn('PACS request failed; retrying', {
            method: xhr.requestMethod,
            url: xhr.requestUrl,
            status: failure.status,
            error: failure.networkError,
            attempt,
            waitMs: Math.round(wait),
          });
          await sleep(wait);
          continue;
        }
        if (failure.status === 0) throw new PacsUnreachableError(xhr.requestUrl || this.url, attempt, failure.networkError ?? 'no response', dropped);
        throw new PacsHttpError(failure.status, xhr.requestMethod, xhr.requestUrl, bodyExcerpt(err.response), attempt);
      }
    }
  }
}

/** QIDO-RS series attributes that the series summaries need beyond the defaults (Manufacturer: our own outputs). */
export const SERIES_SUMMARY_FIELDS = { includefield: '00080070' };

/** The one reading of a QIDO-RS series result; undefined when it names no series. */
export function seriesSummaryFromQido(ds: DicomJson): SeriesSummary | undefined {
  const value = (tag: string) => {
    const v = ds[tag]?.Value?.[0];
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  const seriesInstanceUID = value('0020000E');
  if (!seriesInstanceUID) return undefined;
  const count = Number(value('00201209'));
  return {
    seriesInstanceUID,
    modality: value('00080060'),
    seriesDescription: value('0008103E'),
    manufacturer: value('00080070'),
    numberOfInstances: Number.isFinite(count) && count > 0 ? count : undefined,
  };
}

export function authHeaders(auth: AuthConfig): Record<string, string> {
  switch (auth.type) {
    case 'basic':
      return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}` };
    case 'bearer':
      return { Authorization: `Bearer ${auth.token}` };
    default:
      return {};
  }
}

/** The transfer-syntax parameter anywhere in a Content-Type value (Orthanc puts it inside the quoted type). */
export function transferSyntaxFrom(contentType: string | null | undefined): string | undefined {
  const m = /transfer-syntax="?([0-9.]+|\*)/i.exec(contentType ?? '');
  return m && m[1] !== '*' ? m[1] : undefined;
}

function asArray(v: unknown): DicomJson[] {
  // dicomweb-client resolves an empty answer (204) as [] and a JSON parse failure as null.
  if (v === null || v === undefined || v === '') return [];
  // Only the shape: a non-array answer may be a whole dataset, and this message reaches logs and the dashboard.
  if (!Array.isArray(v)) throw new Error(`unexpected DICOMweb answer: ${typeof v}${typeof v === 'string' ? ` of ${v.length} characters` : ''}, expected a JSON array`);
  return v as DicomJson[];
}

function parseJson(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? undefined;
  try {
    return v.trim() ? JSON.parse(v) : undefined;
  } catch {
    return undefined;
  }
}

function isStowBody(v: unknown): boolean {
  return !!v && typeof v === 'object' && ('00081199' in v || '00081198' in v);
}

function bodyExcerpt(body: unknown): string {
  if (body === null || body === undefined) return '';
  let s: string;
  if (typeof body === 'string') s = body;
  else if (body instanceof ArrayBuffer) s = Buffer.from(body.slice(0, 300)).toString('utf8');
  else s = JSON.stringify(body);
  // Orthanc's JSON errors: the Message is what matters.
  const m = /"Message"\s*:\s*"([^"]*)"/.exec(s);
  const text = (m ? m[1] : s).replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

function safeHeader(xhr: XMLHttpRequest, name: string): string | null {
  try {
    return xhr.getResponseHeader(name);
  } catch {
    return null;
  }
}

function batches(bufs: ArrayBuffer[], maxBytes: number): { buf: ArrayBuffer; index: number }[][] {
  const out: { buf: ArrayBuffer; index: number }[][] = [];
  let cur: { buf: ArrayBuffer; index: number }[] = [];
  let size = 0;
  bufs.forEach((buf, index) => {
    if (cur.length && size + buf.byteLength > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push({ buf, index });
    size += buf.byteLength;
  });
  if (cur.length) out.push(cur);
  return out;
}
