/**
 * A warning that repeats while a condition lasts (a PACS outage makes the change feed fail every poll): logged
 * the first time, then once per period as a summary (how many times, the last error), and once when it ends, so
 * that an outage of hours is a handful of lines instead of thousands.
 */
import { log } from './log';

export class RepeatedWarning {
  private since?: number;
  private failures = 0;
  private sinceSummary = 0;
  private lastSummaryAt = 0;
  private lastError = '';

  constructor(
    private readonly message: string,
    private readonly periodMs = 60000,
    private readonly clock: () => number = Date.now,
    private readonly sink: (level: 'warn' | 'info', message: string, meta: Record<string, unknown>) => void = (level, m, meta) => log[level](m, meta),
  ) {}

  /** The condition happened (again). */
  failed(error: string, meta: Record<string, unknown> = {}): void {
    const now = this.clock();
    this.failures++;
    this.sinceSummary++;
    this.lastError = error;
    if (this.since === undefined) {
      this.since = this.lastSummaryAt = now;
      this.sinceSummary = 0;
      this.sink('warn', this.message, { error, ...meta });
      return;
    }
    if (now - this.lastSummaryAt >= this.periodMs) {
      this.sink('warn', `${this.message} (still failing)`, {
        error, ...meta, failuresSinceLastLog: this.sinceSummary, failures: this.failures, failingForSeconds: Math.round((now - this.since) / 1000),
      });
      this.lastSummaryAt = now;
      this.sinceSummary = 0;
    }
  }

  /** The condition ended: one line saying after how long and how many failures (nothing when it was not failing). */
  succeeded(meta: Record<string, unknown> = {}): void {
    if (this.since === undefined) return;
    const now = this.clock();
    this.sink('info', `${this.message}: recovered`, {
      ...meta, failures: this.failures, failedForSeconds: Math.round((now - this.since) / 1000), lastError: this.lastError,
    });
    this.since = undefined;
    this.failures = 0;
    this.sinceSummary = 0;
  }

  get failing(): boolean {
    return this.since !== undefined;
  }
}
