import type { Knex } from 'knex';
import type { EventWriting } from '../db/order-event-outbox';
import { asClosed, findDueOrderIds, fireDueTimers, type ClosedOrder, type FiredOrder } from '../db/order-transitions';
import { isConnectionError, retryOnConflict } from '../db/retry';
import type { EventSource } from '../domain/order-lifecycle';
import { PAYMENT_TIMEOUT, TIMER_KINDS, type TimerKind } from '../domain/timer-kinds';
import { errorFields, logger } from '../log';
import { runPeriodically, type PeriodicJob } from './periodic';

/** Options for {@link sweepOverdueOrders}. */
export interface SweepOptions {
  db: Knex;
  now: () => Date;
  /** How far past its due time a timer must be (ms). */
  graceMs: number;
  /** Orders per transaction. */
  batchSize: number;
  /** Recorded in order_events (default `sweeper`). */
  source?: EventSource;
  /** Writes the events of what it fires (`closed`, `completed`, `expiring`); omitted when events are off. */
  events?: EventWriting;
  /**
   * Orders whose timer failed to fire on its own: kept out of the batches, tried alone first on each sweep, dropped
   * once they fire or stop being due. The periodic sweeper keeps one set per kind across sweeps; the CLI a fresh one.
   */
  failing?: Set<string>;
  /** Called for each order whose timer failed to fire on its own (metrics). */
  onFailed?: (orderId: string, err: unknown) => void;
}

/** At most this many failing orders are remembered (and left out of batches); beyond, a sweep finds them again. */
const MAX_REMEMBERED_FAILURES = 1_000;

/**
 * Fires every timer of `kind` due more than the grace ago, batch by batch. Rows another sweeper holds are skipped,
 * so several processes share the work without doing it twice.
 *
 * One order that cannot be changed (a failing trigger, bad data) would fail every batch it is in, and with it
 * every sweep. As the closer does, a failed batch is retried one order at a time: the failing order is logged,
 * counted and left out of later batches; every other order goes through. A database that cannot be reached still
 * fails the sweep (the next one retries).
 */
export async function sweepDueTimers(opts: SweepOptions, kind: TimerKind): Promise<FiredOrder[]> {
  const failing = opts.failing ?? new Set<string>();
  const all: FiredOrder[] = [];
  for (const id of [...failing]) all.push(...(await fireAlone(opts, kind, failing, id)));
  for (;;) {
    const excludeIds = [...failing];
    const base = { source: opts.source ?? 'sweeper', now: opts.now(), graceMs: opts.graceMs, limit: opts.batchSize };
    let fired: FiredOrder[];
    try {
      fired = await retryOnConflict(() => fireDueTimers(opts.db, kind, { ...base, excludeIds, events: opts.events }));
    } catch (err) {
      if (isConnectionError(err)) throw err;
      const ids = await findDueOrderIds(opts.db, kind, { ...base, excludeIds });
      if (ids.length === 0) throw err;
      logger.warn('sweeper batch failed; firing its timers one at a time', {
        kind: kind.name,
        size: ids.length,
        ...errorFields(err),
      });
      for (const id of ids) all.push(...(await fireAlone(opts, kind, failing, id)));
      if (ids.length < opts.batchSize) return all;
      continue;
    }
    all.push(...fired);
    if (fired.length < opts.batchSize) return all;
  }
}

/** Fires one order's timer in a transaction of its own; a failure marks it failing instead of failing the sweep. */
async function fireAlone(
  opts: SweepOptions,
  kind: TimerKind,
  failing: Set<string>,
  orderId: string,
): Promise<FiredOrder[]> {
  try {
    const fired = await retryOnConflict(() =>
      fireDueTimers(opts.db, kind, {
        orderIds: [orderId],
        source: opts.source ?? 'sweeper',
        now: opts.now(),
        graceMs: opts.graceMs,
        events: opts.events,
      }),
    );
    failing.delete(orderId); // fired, or no longer due: nothing left to do for it
    return fired;
  } catch (err) {
    if (isConnectionError(err)) throw err;
    const known = failing.has(orderId);
    if (known || failing.size < MAX_REMEMBERED_FAILURES) failing.add(orderId);
    logger.warn('sweeper could not fire an order timer; skipping it, the others go on', {
      orderId,
      kind: kind.name,
      again: known,
      ...errorFields(err),
    });
    opts.onFailed?.(orderId, err);
    return [];
  }
}

/** Closes every PENDING_PAYMENT order past its deadline plus the grace (the payment timeouts; see sweepDueTimers). */
export async function sweepOverdueOrders(opts: SweepOptions): Promise<ClosedOrder[]> {
  return (await sweepDueTimers(opts, PAYMENT_TIMEOUT)).map(asClosed);
}

/**
 * Runs the sweep of every timer kind every `intervalMs`; anything it finds means timer messages went missing, so it
 * warns.
 */
export function startSweeper(
  opts: SweepOptions & { intervalMs: number; onFired?: (kind: TimerKind, fired: FiredOrder[]) => void },
): PeriodicJob {
  const failing = new Map(TIMER_KINDS.map((kind) => [kind.name, new Set<string>()]));
  return runPeriodically(opts.intervalMs, async () => {
    for (const kind of TIMER_KINDS) {
      try {
        const fired = await sweepDueTimers({ ...opts, failing: failing.get(kind.name) }, kind);
        if (fired.length === 0) continue;
        opts.onFired?.(kind, fired);
        logger.warn(kind.sweptLog, {
          kind: kind.name,
          count: fired.length,
          orderIds: fired.slice(0, 20).map((c) => c.id),
        });
      } catch (err) {
        logger.warn('sweep failed; next round will retry', { kind: kind.name, ...errorFields(err) });
      }
    }
  });
}
