/**
 * A real Orthanc for integration tests: started on free loopback ports in its own temporary folder, stopped
 * (and its folder removed) after the suite, also when a test fails.
 *
 *   const pacs = useOrthanc({ stableAge: 2 });
 *   test('...', async () => { await fetch(pacs().url + '/system'); });
 *
 * `superviseRestartMs` runs it as systemd's Restart=always would: restarted after each crash on the same folder and
 * ports; `pacs().crashes` and `pacs().restarts` count them (test/integration/service/pacs-poison.test.ts).
 */
import { OrthancProcess, type OrthancOptions } from '../../src/pacs/orthanc-process';

export function useOrthanc(opts: OrthancOptions = {}): () => OrthancProcess {
  let orthanc: OrthancProcess | undefined;
  beforeAll(async () => {
    orthanc = await OrthancProcess.start(opts);
  }, 60000);
  afterAll(async () => {
    await orthanc?.dispose();
  }, 30000);
  return () => {
    if (!orthanc) throw new Error('Orthanc did not start (see beforeAll)');
    return orthanc;
  };
}

/** Uploads Part 10 files through Orthanc's REST API (the quickest way to fill a test PACS). */
export async function uploadFiles(orthanc: OrthancProcess, files: string[]): Promise<void> {
  const fs = await import('node:fs/promises');
  for (const f of files) {
    const body = await fs.readFile(f);
    const r = await fetch(`${orthanc.url}/instances`, { method: 'POST', body });
    if (!r.ok) throw new Error(`upload of ${f} failed: ${r.status} ${await r.text()}`);
  }
}
