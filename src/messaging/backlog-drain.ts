import type { FiredOrder } from '../db/order-transitions';
import type { TimerKind } from '../domain/timer-kinds';
import { errorFields, logger } from '../log';

/** Options for {@link BacklogDrain}. */
export interface BacklogDrainOptions {
  /**
   * One transaction: fires up to `limit` of the oldest timers of `kind` due by now that no one else holds (SKIP
   * LOCKED), and answers what it fired. A drain holds up to `lanes` connections of the pool this runs on.
   */
  fire: (kind: TimerKind, limit: number) => Promise<FiredOrder[]>;
  /** Transactions that run at once while draining (each takes the oldest due orders nobody holds); 0: never drain. */
  lanes: number;
  /** Most orders fired in one of its transactions. */
  batchSize: number;
  /** After a drain failed, how long before another may start (ms). */
  cooldownMs: number;
  /** Called after each transaction that fired timers, with the kind, what it fired and how long it took. */
  onFired?: (kind: TimerKind, fired: FiredOrder[], seconds: number) => void;
}

/**
 * The second trigger of the closer. Messages fire timers on time, one small batch as each arrives; but when they
 * arrive faster than batches close (a backlog after an outage, thousands of orders with one deadline), closing in
 * message order is bounded by how fast the broker hands them over. Then the database itself is the better queue:
 * the drain fires the oldest due timers in large transactions on several lanes (SKIP LOCKED: lanes and other
 * processes never take the same order) until a round finds fewer than a batch. The messages of those orders still
 * arrive and are acknowledged as already fired. Nothing fires early: only timers due by now are taken.
 *
 * One drain runs at a time, whatever the kind, so it never holds more than `lanes` connections.
 */
export class BacklogDrain {
  private running?: Promise<void>;
  private runningKind?: TimerKind;
  private stopping = false;
  private coolUntil = 0;

  constructor(private readonly opts: BacklogDrainOptions) {}

  /**
   * Starts draining `kind` unless a drain already runs (or just failed); it ends by itself once it is drained.
   * Answers whether it started one.
   */
  trigger(kind: TimerKind): boolean {
    if (this.running || this.stopping || this.opts.lanes === 0 || Date.now() < this.coolUntil) return false;
    this.runningKind = kind;
    this.running = this.drain(kind).finally(() => {
      this.running = undefined;
      this.runningKind = undefined;
    });
    return true;
  }

  private async drain(kind: TimerKind): Promise<void> {
    const { lanes, batchSize } = this.opts;
    const started = Date.now();
    let fired = 0;
    // A lane that fails stops the others after their current transaction: the drain ends as one.
    let failed: unknown;
    const lane = async () => {
      while (!this.stopping && failed === undefined) {
        let n: number;
        try {
          n = await this.fireOnce(kind);
        } catch (err) {
          failed ??= err;
          return;
        }
        fired += n;
        if (n < batchSize) return;
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    if (failed !== undefined) {
      // The messages still fire every timer, a failing order isolated in its own transaction.
      this.coolUntil = Date.now() + this.opts.cooldownMs;
      logger.warn('backlog drain failed; the messages go on firing the timers', {
        kind: kind.name,
        fired,
        retryAfterMs: this.opts.cooldownMs,
        ...errorFields(failed),
      });
    } else if (fired > 0) {
      logger.info('backlog drained from the database', { kind: kind.name, fired, lanes, ms: Date.now() - started });
    }
  }

  /** One transaction: the oldest due timers nobody else holds; how many it fired. */
  private async fireOnce(kind: TimerKind): Promise<number> {
    const { batchSize, onFired } = this.opts;
    const started = process.hrtime.bigint();
    const fired = await this.opts.fire(kind, batchSize);
    if (fired.length > 0) onFired?.(kind, fired, Number(process.hrtime.bigint() - started) / 1e9);
    return fired.length;
  }

  /** The drain running now (of any kind), resolving when it ends; undefined when none runs. */
  get current(): Promise<void> | undefined {
    return this.running;
  }

  /** Resolves once no drain (of `kind`, when given) runs: at once when none does. */
  async idle(kind?: TimerKind): Promise<void> {
    if (kind && this.runningKind !== kind) return;
    await this.running;
  }

  /** Lets the running transactions finish; starts no more. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }
}
