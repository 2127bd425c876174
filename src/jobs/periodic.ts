/** A job started by {@link runPeriodically}. */
export interface PeriodicJob {
  /** Stops scheduling rounds and waits for the one under way, if any. */
  stop(): Promise<void>;
}

/**
 * Runs `round` every `intervalMs`, never two at once (a round still running when the timer fires is not joined by
 * another). `round` handles its own errors. The timer does not keep the process alive.
 */
export function runPeriodically(intervalMs: number, round: () => Promise<void>): PeriodicJob {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= round().finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
