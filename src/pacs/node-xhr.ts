/**
 * The XMLHttpRequest that dicomweb-client gets in Node: xhr2, extended to remember what happened to the request
 * (the URL, and for a failure without HTTP response the network error code or the timeout) so that our errors can
 * say it. Instances are handed to dicomweb-client per request (its `request.instance` option), so no global
 * XMLHttpRequest is installed.
 */
// xhr2 ships no type declarations; its export is the XMLHttpRequest class.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const XHR2: new () => XMLHttpRequest = require('xhr2');

export class NodeXhr extends (XHR2 as unknown as { new (): XMLHttpRequest }) {
  requestMethod = '';
  requestUrl = '';
  /** Set when no HTTP response arrived: ECONNREFUSED, ECONNRESET, "timeout after N ms", ... */
  networkError?: string;

  override open(method: string, url: string | URL, ...rest: unknown[]): void {
    this.requestMethod = method.toUpperCase();
    this.requestUrl = String(url);
    (super.open as (...a: unknown[]) => void).call(this, method, url, ...rest);
  }

  override send(body?: Document | XMLHttpRequestBodyInit | null): void {
    // xhr2 copies an ArrayBuffer byte by byte; a Buffer view over it is sent as is.
    super.send(body instanceof ArrayBuffer ? (Buffer.from(body) as unknown as XMLHttpRequestBodyInit) : body);
  }

  // xhr2's internal hooks (present in xhr2 0.2); when absent the failure is still seen as status 0.
  _onHttpRequestError(request: unknown, error: NodeJS.ErrnoException): unknown {
    this.networkError = error.code ?? error.message;
    return (XHR2.prototype as any)._onHttpRequestError.call(this, request, error);
  }
  _onHttpTimeout(request: unknown): unknown {
    this.networkError = `no answer within ${this.timeout} ms`;
    return (XHR2.prototype as any)._onHttpTimeout.call(this, request);
  }
  _onHttpResponseClose(response: unknown): unknown {
    this.networkError = 'connection closed before the response was complete';
    return (XHR2.prototype as any)._onHttpResponseClose.call(this, response);
  }
}
