/**
 * What the HTTP surface accepts from a client, checked strictly before anything is looked up or stored: job ids,
 * DICOM UIDs (isValidUid: digits and dots, at most 64 characters, no leading zeros), Orthanc resource ids and
 * query parameters that must be single strings (`?study[]=1&study[]=2` arrives as an array, `?a[b]=1` as an object).
 */
import { LensError } from '../errors';

/** A request the client must change: answered 400 with the message (which never holds more than the client sent). */
export class RequestError extends LensError {
  constructor(message: string) {
    super(message, 'bad-request');
  }
}

/** Decimal, no sign, no leading zero, no exponent or hex (Number() would take `0x1` and `1e0`), within 2^53. */
const JOB_ID = /^[1-9][0-9]{0,15}$/;

export function parseJobId(raw: string): number {
  const id = JOB_ID.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw new RequestError('a job id is a positive decimal integer');
  return id;
}

/** A lesion number within a job (small positive integer). */
export function parseLesionId(raw: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(raw)) throw new RequestError('a lesion id is a positive decimal integer');
  return Number(raw);
}

/** Orthanc's resource ids: the SHA-1 of the DICOM identifiers, as five dash-separated groups of 8 hex digits. */
const ORTHANC_ID = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;

export function isOrthancId(id: unknown): id is string {
  return typeof id === 'string' && ORTHANC_ID.test(id);
}

/** The query parameter `name` as one string, or undefined when absent; arrays and objects are refused. */
export function queryString(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new RequestError(`query parameter ${name} must be given once, as a plain value`);
  return v;
}
