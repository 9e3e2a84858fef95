/**
 * The one error hierarchy: every error class of lens-pacs, constructed for real, carries the reason and transience
 * its thrower set; classifyError reads them by instanceof, knows Node's own network failures, and calls anything
 * else a bug. The CLI prints the same classification: one line for the user's problems, a stack trace for bugs.
 */
import net from 'node:net';
import { main, reportFailure } from '../../src/cli';
import { UserError } from '../../src/cli/errors';
import { ConfigError } from '../../src/config/load';
import { ModelError } from '../../src/detect/load-manifest';
import { DicomDecodeError } from '../../src/dicom/decode/errors';
import { DicomHeaderError } from '../../src/dicom/instance-header';
import { FolderError } from '../../src/dicom/load-folder';
import { SelectionError } from '../../src/dicom/select-series';
import { VolumeError } from '../../src/dicom/volume-error';
import { classifyError, LensError } from '../../src/errors';
import { EvalInputError } from '../../src/eval/load-tree';
import { LeaseLostError } from '../../src/jobs/errors';
import { OrthancRestError } from '../../src/listener/orthanc-rest';
import { PacsHttpError, PacsUnreachableError, StoreError } from '../../src/pacs/errors';
import { isTransient } from '../../src/pacs/retry';
import { SkipStudy } from '../../src/pipeline/errors';
import { ReportVerificationError } from '../../src/report/store';

const every: [LensError, string, boolean][] = [
  [new LeaseLostError('lease of job 7 lost'), 'lease-lost', false],
  [new ConfigError('invalid configuration: pacs.url: Required'), 'config-invalid', false],
  [new ModelError('no model manifest at /m/model.json'), 'model-invalid', false],
  [new PacsUnreachableError('http://127.0.0.1:8042/dicom-web', 3, 'ECONNREFUSED'), 'pacs-unreachable', true],
  [new PacsHttpError(503, 'GET', 'http://127.0.0.1:8042/dicom-web/studies', 'busy', 3), 'pacs-http-503', true],
  [new PacsHttpError(404, 'GET', 'http://127.0.0.1:8042/dicom-web/studies/1.2', '', 1), 'pacs-http-404', false],
  [new StoreError('http://127.0.0.1:8042/dicom-web/studies', [{ sopInstanceUID: '1.2.3', reason: 'refused' }], 0), 'store-rejected', false],
  [new ReportVerificationError(['sr 1.2.3 not found in series 1.2']), 'verify-failed', true],
  [new OrthancRestError('Orthanc unreachable at http://127.0.0.1:8042: fetch failed'), 'pacs-unreachable', true],
  [new OrthancRestError('GET /changes -> HTTP 502', 502), 'pacs-http-502', true],
  [new OrthancRestError('GET /studies/x -> HTTP 404', 404), 'pacs-http-404', false],
  [new VolumeError('slice gap of 12 mm between slices 4 and 5'), 'volume-invalid', false],
  [new SelectionError({ why: 'no CT series', ranked: [], rejected: [] }), 'no-eligible-series', false],
  [new FolderError('/data/x: no such file or folder'), 'folder-invalid', false],
  [new DicomDecodeError('1.2.840.10008.1.2.4.90', 'truncated codestream'), 'undecodable', false],
  [new DicomHeaderError('dataset lacks Rows'), 'header-invalid', false],
  [new UserError('--threshold must be in [0, 1], got 3'), 'user-input', false],
  [new EvalInputError('no truth.json under /t'), 'eval-input-invalid', false],
  [new SkipStudy('own-outputs-only', 'the study holds only lens-pacs outputs'), 'own-outputs-only', false],
];

describe('every error class is a LensError with the reason and transience set where it is made', () => {
  test.each(every.map(([e, reason, transient]) => [e.constructor.name, reason, transient, e] as const))(
    '%s -> %s (transient %s)',
    (name, reason, transient, e) => {
      expect(e).toBeInstanceOf(LensError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(name);
      expect(classifyError(e)).toEqual({ reason, transient, message: e.message, bug: false });
    },
  );

  test('the message of each still says what went wrong', () => {
    expect(new PacsHttpError(401, 'GET', 'http://127.0.0.1/x', '', 1).message).toMatch(/HTTP 401 \(unauthorized: check pacs.auth\)/);
    expect(new PacsUnreachableError('http://127.0.0.1/x', 1, 'ECONNRESET').message).toBe('PACS unreachable at http://127.0.0.1/x after 1 try (ECONNRESET)');
    expect(new DicomDecodeError('1.2.840.10008.1.2.4.90', 'truncated').message).toMatch(/^cannot decode pixel data in transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90.*: truncated$/);
  });

  test('a cause is kept', () => {
    const cause = new Error('EACCES');
    expect(new ConfigError('cannot read config file', { cause }).cause).toBe(cause);
  });
});

describe('one transient policy for HTTP statuses: the request retries and the job retries agree', () => {
  test.each([400, 401, 403, 404, 408, 409, 415, 429, 500, 501, 502, 503, 504])('HTTP %i', (status) => {
    const expected = [408, 429, 502, 503, 504].includes(status);
    expect(new PacsHttpError(status, 'GET', 'http://127.0.0.1/x', '', 1).transient).toBe(expected);
    expect(new OrthancRestError(`HTTP ${status}`, status).transient).toBe(expected);
    expect(isTransient({ status })).toBe(expected);
  });
});

describe('errors lens-pacs does not make', () => {
  /** A loopback port nothing listens on: one just released by a server of our own. */
  async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  test('a raw ECONNREFUSED from a socket is a transient pacs-unreachable', async () => {
    const port = await closedPort();
    const err = await new Promise<unknown>((resolve) => net.connect(port, '127.0.0.1').on('error', resolve));
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(classifyError(err)).toMatchObject({ reason: 'pacs-unreachable', transient: true, bug: false });
  });

  test("fetch's failure (the code is on its cause) is a transient pacs-unreachable naming the code", async () => {
    const port = await closedPort();
    const err = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => e);
    expect(classifyError(err)).toEqual({ reason: 'pacs-unreachable', transient: true, message: 'fetch failed (ECONNREFUSED)', bug: false });
  });

  test('a request that times out (AbortSignal.timeout) is a transient timeout', async () => {
    const silent = net.createServer(() => undefined); // accepts and never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const err = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(50) }).then(() => undefined, (e: unknown) => e);
      expect(classifyError(err)).toMatchObject({ reason: 'timeout', transient: true, bug: false });
    } finally {
      silent.close();
    }
  });

  test('anything else is a bug: internal, never retried', () => {
    expect(classifyError(new Error('something unforeseen'))).toEqual({ reason: 'internal', transient: false, message: 'something unforeseen', bug: true });
    expect(classifyError(new TypeError("Cannot read properties of undefined (reading 'rows')"))).toMatchObject({ reason: 'internal', bug: true });
    expect(classifyError('a thrown string')).toEqual({ reason: 'internal', transient: false, message: 'a thrown string', bug: true });
    // A name alone makes nothing a LensError: classification is by class, not by what an error calls itself.
    expect(classifyError(Object.assign(new Error('slice gap'), { name: 'VolumeError' }))).toMatchObject({ reason: 'internal', bug: true });
  });
});

describe('the CLI reports by the same table', () => {
  function stderrOf(run: () => unknown): { result: unknown; text: string } {
    const out: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      return { result: run(), text: out.join('') };
    } finally {
      spy.mockRestore();
    }
  }

  test("the user's problem is one line, exit 2 (or the UserError's own status)", () => {
    const model = stderrOf(() => reportFailure(new ModelError('no model manifest at /m/model.json')));
    expect(model).toEqual({ result: 2, text: 'lens: no model manifest at /m/model.json\n' });
    const partial = stderrOf(() => reportFailure(new UserError('findings.json is written, but the DICOM SR/SEG failed', 1)));
    expect(partial).toEqual({ result: 1, text: 'lens: findings.json is written, but the DICOM SR/SEG failed\n' });
    const down = stderrOf(() => reportFailure(new PacsUnreachableError('http://127.0.0.1:8042/dicom-web', 3, 'ECONNREFUSED')));
    expect(down.result).toBe(2);
    expect(down.text.trim().split('\n')).toHaveLength(1);
  });

  test('a bug prints its stack trace, exit 1', () => {
    const bug = stderrOf(() => reportFailure(new TypeError("Cannot read properties of undefined (reading 'rows')")));
    expect(bug.result).toBe(1);
    expect(bug.text).toMatch(/^lens: unexpected error \(a bug in lens\): TypeError: Cannot read properties/);
    expect(bug.text).toMatch(/\n\s+at /);
  });

  test('a command that fails on the user\'s input exits 2 with one line', async () => {
    const out: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    let code: number;
    try {
      code = await main(['node', 'lens', 'eval', '--truth', '/nonexistent/truth', '--pred', '/nonexistent/pred']);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(2);
    expect(out.join('')).toBe('lens: /nonexistent/truth does not exist\n');
  });
});
