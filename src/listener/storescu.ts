/** Sends DICOM files to a PACS by C-STORE with dcmtk's storescu, as a scanner would (demo, tests, bench). */
import { execFile } from 'node:child_process';
import { DCMTK_ENV } from '../pacs/dcmtk-env';

export interface CStoreTarget {
  host?: string;
  port: number;
  calledAet: string;
  callingAet?: string;
}

/** Sends every file under `paths` (folders are scanned recursively). Rejects with storescu's output on failure. */
export function storescu(paths: string[], t: CStoreTarget): Promise<void> {
  const args = ['-aet', t.callingAet ?? 'LENSSCANNER', '-aec', t.calledAet, '+sd', '+r', '-nh', t.host ?? '127.0.0.1', String(t.port), ...paths];
  return new Promise((resolve, reject) => {
    execFile('storescu', args, { maxBuffer: 16 << 20, env: DCMTK_ENV }, (err, stdout, stderr) => {
      if (err) reject(new Error(`storescu failed (${err.message.split('\n')[0]}): ${(stderr || stdout).split('\n').slice(-6).join('\n')}`));
      else resolve();
    });
  });
}
