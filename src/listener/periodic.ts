import { log } from '../log';

/**
 * Runs a poll every intervalMs after the previous one ends (never two at once); a failed poll is logged and the
 * next one still runs, because a PACS that is down now may be back at the next tick. stop() waits for the poll
 * in flight, so a shutdown never cuts one in half.
 */
export class PeriodicPoll {
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly poll: () => Promise<unknown>,
  ) {}

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.polling = this.poll()
        .then(
          () => undefined,
          (e) => void log.warn(`${this.name} failed`, { error: (e as Error).message }),
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
