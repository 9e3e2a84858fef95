/**
 * Authentication against a real Orthanc with AuthenticationEnabled, and the failures a PACS client meets: wrong
 * credentials (401, never retried), nothing listening (retried, then PacsUnreachableError), a server that accepts
 * the connection and never answers (timeout, retried, then PacsUnreachableError).
 */
import net from 'node:net';
import { freePort } from '../../../src/pacs/free-port';
import { PacsHttpError, PacsUnreachableError } from '../../../src/pacs/dicomweb';
import { useOrthanc } from '../../helpers/orthanc';
import { client, first, LUNG_SERIES2, readParts } from './fixtures';

const pacs = useOrthanc({ extraConfig: { AuthenticationEnabled: true, RegisteredUsers: { lens: 'right-password' } } });
const parts = readParts(LUNG_SERIES2).slice(0, 2);

test('basic authentication: the right password stores and finds, a wrong one is a 401 at once', async () => {
  const ok = client(pacs().dicomwebUrl, { auth: { type: 'basic', username: 'lens', password: 'right-password' } });
  expect((await ok.storeInstances(parts)).stored).toHaveLength(2);
  const studies = await ok.searchStudies();
  expect(studies.map((s) => first(s, '00100020'))).toEqual(['Lung_Dx-A0001']);

  for (const auth of [
    { type: 'basic' as const, username: 'lens', password: 'wrong' },
    { type: 'none' as const },
  ]) {
    const err = await client(pacs().dicomwebUrl, { auth, retries: 3 }).searchStudies().catch((e) => e);
    expect(err).toBeInstanceOf(PacsHttpError);
    expect((err as PacsHttpError).status).toBe(401);
    expect((err as PacsHttpError).attempts).toBe(1);
    expect((err as Error).message).toMatch(/HTTP 401 \(unauthorized: check pacs.auth\)/);
  }
});

test('nothing listening: PacsUnreachableError naming the URL after the configured tries', async () => {
  const url = `http://127.0.0.1:${await freePort()}/dicom-web`;
  const err = await client(url, { retries: 2, retryBaseMs: 10 }).searchStudies().catch((e) => e);
  expect(err).toBeInstanceOf(PacsUnreachableError);
  expect((err as PacsUnreachableError).attempts).toBe(3);
  expect((err as Error).message).toBe(`PACS unreachable at ${url}/studies after 3 tries (ECONNREFUSED)`);
});

test('a server that never answers: the timeout ends each try, then PacsUnreachableError', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/dicom-web`;
    const err = await client(url, { retries: 1, retryBaseMs: 10, timeoutMs: 300 }).searchStudies().catch((e) => e);
    expect(err).toBeInstanceOf(PacsUnreachableError);
    expect((err as PacsUnreachableError).attempts).toBe(2);
    expect((err as Error).message).toMatch(/no answer within 300 ms/);
    expect(sockets.length).toBe(2);
  } finally {
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => silent.close(resolve));
  }
});
