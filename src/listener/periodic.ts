import { RepeatedWarning } from '../repeated-warning';

/**
 * Whether intake is open (src/server/intake-gate.ts): while closed, a poll is skipped and its cursor stays where
 * it is, so the events it would have read are read once intake reopens.
 */
export interface IntakeSwitch {
  isOpen(): boolean;
  /** True when `e` is a resource failure of the job store (then the gate closes and this poll's events come back). */
  report(e: unknown): boolean;
}

/**
 * Runs a poll every intervalMs after the previous one ends (never two at once); a failed poll is logged and the
 * next one still runs, because a PACS that is down now may be back at the next tick. Failures in a row are logged
 * once, then summarised once a minute, and the recovery once (an outage of hours is not a line every tick).
 * stop() waits for the poll in flight, so a shutdown never cuts one in half.
 */
export class PeriodicPoll {
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = true;
  private readonly failures: RepeatedWarning;

  constructor(
    name: string,
    private readonly intervalMs: number,
    private readonly poll: () => Promise<unknown>,
    private readonly intake?: IntakeSwitch,
  ) {
    this.failures = new RepeatedWarning(`${name} failed`);
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      const skipped = !!this.intake && !this.intake.isOpen();
      this.polling = (skipped ? Promise.resolve() : this.poll())
        .then(
          () => void (skipped || this.failures.succeeded()),
          // A full job store is said once by the gate, not at every tick.
          (e) => void (this.intake?.report(e) || this.failures.failed((e as Error).message)),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }
}
