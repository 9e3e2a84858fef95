/**
 * How a failure is handled: transient failures (PACS unreachable, 5xx, timeouts) are retried with backoff;
 * everything else (corrupt data, rejected objects, bugs) fails the job at once with the reason, because
 * retrying would give the same answer.
 */

/** Thrown by a stage to end the job as skipped (not an error): the study needs no analysis. */
export class SkipStudy extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'SkipStudy';
  }
}

export interface ErrorClass {
  reason: string;
  transient: boolean;
  message: string;
}

function names(e: unknown): string[] {
  const out: string[] = [];
  let p = e && typeof e === 'object' ? Object.getPrototypeOf(e) : undefined;
  while (p && p !== Object.prototype) {
    if (p.constructor?.name) out.push(p.constructor.name);
    p = Object.getPrototypeOf(p);
  }
  const n = (e as { name?: unknown })?.name;
  if (typeof n === 'string') out.push(n);
  return out;
}

const TRANSIENT_CODES = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT/;

export function classifyError(e: unknown): ErrorClass {
  const message = (e as Error)?.message ?? String(e);
  const n = names(e);
  const status = Number((e as { status?: unknown })?.status);
  const code = String((e as { code?: unknown })?.code ?? (e as { cause?: { code?: unknown } })?.cause?.code ?? '');
  if (n.includes('PacsUnreachableError')) return { reason: 'pacs-unreachable', transient: true, message };
  if (n.includes('PacsHttpError')) {
    if (status >= 500 || status === 408 || status === 429) return { reason: `pacs-http-${status}`, transient: true, message };
    return { reason: `pacs-http-${status || 'error'}`, transient: false, message };
  }
  if (n.includes('TimeoutError') || n.includes('AbortError')) return { reason: 'timeout', transient: true, message };
  if (TRANSIENT_CODES.test(code) || /fetch failed|ECONNREFUSED|socket hang up/i.test(message)) return { reason: 'pacs-unreachable', transient: true, message };
  if (n.includes('StoreError')) return { reason: 'store-rejected', transient: false, message };
  if (n.includes('VolumeError')) return { reason: 'volume-invalid', transient: false, message };
  if (n.includes('DicomDecodeError')) return { reason: 'undecodable', transient: false, message };
  if (n.includes('DicomHeaderError')) return { reason: 'header-invalid', transient: false, message };
  if (n.includes('ReportVerificationError') || n.includes('VerifyError')) return { reason: 'verify-failed', transient: true, message };
  return { reason: 'internal', transient: false, message };
}
