/**
 * Storage commitment reports that arrive on a new association, carried from the service's SCP (which hears them)
 * to the analysis process waiting for its transaction (a child process: no shared memory), through the work dir:
 *
 *   <workDir>/dimse/commitments/<TransactionUID>.json    one report, written by the SCP, taken by the waiter
 *
 * A report is written to a temp file and renamed, so a waiter never reads half of one. It need not survive a
 * crash: a job whose report was lost times out and is retried (the objects are sent and committed again).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isValidUid } from '../dicom/uid';
import type { CommitmentReport } from './commitment';
import { DIMSE_DIR } from './received-files';

/** How often a waiter looks for its report. */
const POLL_MS = 200;

export class CommitmentReports {
  readonly dir: string;

  constructor(workDir: string) {
    this.dir = path.join(workDir, DIMSE_DIR, 'commitments');
  }

  private file(transactionUID: string): string {
    if (!isValidUid(transactionUID)) throw new Error(`not a Transaction UID: ${JSON.stringify(transactionUID)}`);
    return path.join(this.dir, `${transactionUID}.json`);
  }

  /** Removes reports nobody took within maxAgeMs (their waiter timed out or died). */
  async prepare(maxAgeMs = 24 * 3600 * 1000, now = Date.now()): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    for (const f of await fs.promises.readdir(this.dir)) {
      const p = path.join(this.dir, f);
      const st = await fs.promises.stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > maxAgeMs) await fs.promises.rm(p, { force: true });
    }
  }

  async record(report: CommitmentReport): Promise<void> {
    const target = this.file(report.transactionUID);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(report));
    await fs.promises.rename(tmp, target);
  }

  /** Takes the report of the transaction (reads and removes it), waiting up to timeoutMs; undefined when none came. */
  async take(transactionUID: string, timeoutMs: number, cancelled: () => boolean = () => false): Promise<CommitmentReport | undefined> {
    const f = this.file(transactionUID);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const report = JSON.parse(await fs.promises.readFile(f, 'utf8')) as CommitmentReport;
        await fs.promises.rm(f, { force: true });
        return report;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (cancelled() || Date.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }
}
