import type { Knex } from 'knex';
import { closeDueOrders, type ClosedOrder } from '../db/order-transitions';
import { retryOnConflict } from '../db/retry';
import type { EventSource } from '../domain/order-lifecycle';
import { errorFields, logger } from '../log';
import { runPeriodically, type PeriodicJob } from './periodic';

/** Options for {@link sweepOverdueOrders}. */
export interface SweepOptions {
  db: Knex;
  now: () => Date;
  /** How far past its deadline an order must be (ms). */
  graceMs: number;
  /** Orders per transaction. */
  batchSize: number;
  /** Recorded in order_events (default `sweeper`). */
  source?: EventSource;
}

/**
 * Closes every PENDING_PAYMENT order past its deadline plus the grace, batch by batch. Rows another
 * sweeper holds are skipped, so several processes share the work without doing it twice.
 */
export async function sweepOverdueOrders(opts: SweepOptions): Promise<ClosedOrder[]> {
  const all: ClosedOrder[] = [];
  for (;;) {
    const closed = await retryOnConflict(() =>
      closeDueOrders(opts.db, {
        source: opts.source ?? 'sweeper',
        now: opts.now(),
        graceMs: opts.graceMs,
        limit: opts.batchSize,
      }),
    );
    all.push(...closed);
    if (closed.length < opts.batchSize) return all;
  }
}

/** Runs the sweep every `intervalMs`; anything it finds means timeout messages went missing, so it warns. */
export function startSweeper(
  opts: SweepOptions & { intervalMs: number; onClosed?: (closed: ClosedOrder[]) => void },
): PeriodicJob {
  return runPeriodically(opts.intervalMs, async () => {
    try {
      const closed = await sweepOverdueOrders(opts);
      if (closed.length === 0) return;
      opts.onClosed?.(closed);
      logger.warn('sweeper closed overdue orders: their timeout messages were late or lost', {
        count: closed.length,
        orderIds: closed.slice(0, 20).map((c) => c.id),
      });
    } catch (err) {
      logger.warn('sweep failed; next round will retry', errorFields(err));
    }
  });
}
