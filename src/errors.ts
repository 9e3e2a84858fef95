/**
 * The one error hierarchy of lens-pacs. Whoever throws knows best whether a failure can heal by itself (a PACS
 * that is down) or not (a corrupt file), so the reason and the transient flag are set where the error is made,
 * and every consumer (the job runner, the CLI, the API) classifies by `instanceof LensError`, never by name.
 */
export class LensError extends Error {
  constructor(
    message: string,
    /** Short machine-readable category: journey, metrics label, API. */
    readonly reason: string,
    /** True when the same work may succeed later without any change (retry with backoff). */
    readonly transient = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** How one failure is reported and handled, by the job runner and by the CLI alike. */
export interface ErrorClass {
  reason: string;
  transient: boolean;
  message: string;
  /**
   * True for a failure lens-pacs did not foresee (a bug): the CLI prints its stack trace. Every other failure is
   * about the user's data, configuration or PACS and is said in one line.
   */
  bug: boolean;
}

/** The reason of every failure that is not a LensError nor a known network failure. */
const INTERNAL_REASON = 'internal';

/**
 * Error codes Node (net, dns) and undici (fetch) put on failures to reach a server, on the error or its cause
 * (fetch rejects with TypeError("fetch failed") whose cause holds the code). A later try can succeed.
 */
export const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
]);
/** The server was reached but did not answer in time. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The `code` of an error or of any error in its cause chain. */
function networkCode(e: unknown): string | undefined {
  for (let c = e, depth = 0; c && typeof c === 'object' && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || TIMEOUT_CODES.has(code))) return code;
  }
  return undefined;
}

/**
 * The one classification table. A LensError carries its own reason and transience; of the errors lens-pacs does
 * not make, only network failures and timeouts (AbortSignal.timeout rejects with a DOMException "TimeoutError";
 * an aborted request with "AbortError", e.g. at shutdown, and is worth another try) are known; anything else is a
 * bug, reported as `internal` and never retried, since the same code would fail the same way.
 */
export function classifyError(e: unknown): ErrorClass {
  const message = messageOf(e);
  if (e instanceof LensError) return { reason: e.reason, transient: e.transient, message, bug: false };
  if (isDomException(e, 'TimeoutError') || isDomException(e, 'AbortError')) return { reason: 'timeout', transient: true, message, bug: false };
  const code = networkCode(e);
  if (code) return { reason: TIMEOUT_CODES.has(code) ? 'timeout' : 'pacs-unreachable', transient: true, message: message.includes(code) ? message : `${message} (${code})`, bug: false };
  return { reason: INTERNAL_REASON, transient: false, message, bug: true };
}

/** Errors of Node's internals come from another realm under test runners, so `instanceof Error` is not relied on. */
function messageOf(e: unknown): string {
  const m = (e as { message?: unknown })?.message;
  return typeof m === 'string' ? m : String(e);
}

/** A DOMException is identified by its name (that is its type in the WHATWG spec); realm-safe like messageOf. */
function isDomException(e: unknown, name: string): boolean {
  return Object.prototype.toString.call(e) === '[object DOMException]' && (e as { name?: unknown }).name === name;
}
