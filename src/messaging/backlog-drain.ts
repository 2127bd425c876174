import type { Knex } from 'knex';
import type { EventWriting } from '../db/order-event-outbox';
import { fireDueTimers, type FiredOrder } from '../db/order-transitions';
import { retryOnConflict } from '../db/retry';
import type { TimerKind } from '../domain/timer-kinds';
import { errorFields, logger } from '../log';

/** Options for {@link BacklogDrain}. */
export interface BacklogDrainOptions {
  db: Knex;
  kind: TimerKind;
  now: () => Date;
  /** Transactions that run at once while draining (each takes the oldest due orders nobody holds). */
  lanes: number;
  /** Most orders fired in one of its transactions. */
  batchSize: number;
  /** Writes the events of what it fires; omitted when events are off. */
  events?: EventWriting;
  /** Called after each transaction that fired timers, with what it fired and how long it took. */
  onFired?: (fired: FiredOrder[], seconds: number) => void;
}

/**
 * The second trigger of the closer. Messages fire timers on time, one small batch as each arrives; but when they
 * arrive faster than batches close (a backlog after an outage, thousands of orders with one deadline), closing in
 * message order is bounded by how fast the broker hands them over. Then the database itself is the better queue:
 * the drain fires the oldest due timers in large transactions on several lanes (SKIP LOCKED: lanes and other
 * processes never take the same order) until a round finds fewer than a batch. The messages of those orders still
 * arrive and are acknowledged as already fired. Nothing fires early: only timers due by now are taken.
 */
export class BacklogDrain {
  private running?: Promise<void>;
  private stopping = false;

  constructor(private readonly opts: BacklogDrainOptions) {}

  /** Starts draining unless a drain already runs; it ends by itself once the backlog is gone. */
  trigger(): void {
    if (this.running || this.stopping) return;
    logger.info('backlog: draining due timers from the database', {
      kind: this.opts.kind.name,
      lanes: this.opts.lanes,
      batchSize: this.opts.batchSize,
    });
    const started = Date.now();
    let fired = 0;
    const lane = async () => {
      while (!this.stopping) {
        const n = await this.fireOnce();
        fired += n;
        if (n < this.opts.batchSize) return;
      }
    };
    this.running = Promise.all(Array.from({ length: this.opts.lanes }, lane))
      .then(() => {
        logger.info('backlog drained', { kind: this.opts.kind.name, fired, ms: Date.now() - started });
      })
      .catch((err) => {
        // The messages still fire every timer; the next backlog triggers another drain.
        logger.warn('backlog drain failed; the messages go on firing the timers', {
          kind: this.opts.kind.name,
          ...errorFields(err),
        });
      })
      .finally(() => (this.running = undefined));
  }

  /** One transaction: the oldest due timers nobody else holds; how many it fired. */
  private async fireOnce(): Promise<number> {
    const { db, kind, now, batchSize, events, onFired } = this.opts;
    const started = process.hrtime.bigint();
    const fired = await retryOnConflict(() =>
      fireDueTimers(db, kind, { source: kind.source, now: now(), limit: batchSize, events }),
    );
    if (fired.length > 0) onFired?.(fired, Number(process.hrtime.bigint() - started) / 1e9);
    return fired.length;
  }

  /** Lets the running transactions finish; starts no more. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }
}
