import type { Knex } from 'knex';
import { amountsByKind, type AmountsByKind, type Hold } from '../domain/holds';
import type { EventSource, Transition } from '../domain/order-lifecycle';
import { transitionFor } from '../domain/order-lifecycle';
import { heldQueries, holdStatements, runChecked, toHolds, type CheckedStatement } from './holds';
import { affectedRows, runTogetherRaw } from './run-together';

export interface TransitionRequest {
  orderId: string;
  transition: Transition;
  source: EventSource;
  now: Date;
  /** Stored with a `pay` or `revive`. */
  paymentRef?: string;
  /** More statements for the same transaction, sent with its last round trip (the payment's row). */
  alsoWrite?: (trx: Knex.Transaction) => CheckedStatement[];
}

/** What {@link applyTransition} did. */
export interface TransitionOutcome {
  /** False when the order was not in a state (or on a side of its deadline) that allows the transition. */
  applied: boolean;
  /** What the order holds, which the transition gave back, kept or took back as the table says. */
  holds: Hold[];
}

/** The `order_events` rows of one transition applied to these orders. */
function eventRows(trx: Knex.Transaction, ids: readonly string[], t: Transition, source: EventSource, at: Date) {
  return {
    statement: trx('order_events').insert(
      ids.map((id) => ({ order_id: id, event: t.event, from_status: t.from, to_status: t.to, source, at })),
    ),
  };
}

/**
 * Applies one transition as a compare-and-set on its `from` state (and on the deadline, where the table asks),
 * and does with everything the order holds what the table says (give back, keep, take back), in one transaction
 * of two round trips. A retake that finds anything gone throws HoldsUnavailableError: nothing changes.
 */
export async function applyTransition(db: Knex, req: TransitionRequest): Promise<TransitionOutcome> {
  const { transition: t, now } = req;
  return db.transaction(async (trx) => {
    const update: Record<string, unknown> = { status: t.to, updated_at: now };
    if (t.stamps) update[t.stamps] = now;
    if (req.paymentRef !== undefined) update.payment_ref = req.paymentRef;
    const query = trx('orders').update(update).where({ id: req.orderId, status: t.from });
    if (t.deadline === 'before') query.andWhere('expires_at', '>', now);
    if (t.deadline === 'after') query.andWhere('expires_at', '<=', now);
    // What the order holds is read in the same round trip, after the update has locked the order.
    const reads = t.holds === 'unchanged' ? [] : heldQueries(trx, [req.orderId]);
    const [changed, ...held] = await runTogetherRaw(trx, [query, ...reads]);
    if (affectedRows(changed) !== 1) return { applied: false, holds: [] };
    const holds = toHolds(held);
    await runChecked(trx, [
      ...holdStatements(t.holds, trx, holds, now),
      eventRows(trx, [req.orderId], t, req.source, now),
      ...(req.alsoWrite?.(trx) ?? []),
    ]);
    return { applied: true, holds };
  });
}

export interface ClosedOrder {
  id: string;
  /** The order's category (see {@link Order.category}), for metrics. */
  category: string;
  expiresAt: Date;
  closedAt: Date;
  /** What the close gave back, per kind (stock units, coupons, promotion units, points). */
  returned: AmountsByKind;
}

/** Options for {@link closeDueOrders}. */
export interface CloseDueOptions {
  /** Close only these orders (the closer's batch); omitted: any due order (the sweeper). */
  orderIds?: readonly string[];
  source: EventSource;
  now: Date;
  /** Only orders whose deadline is at least this far behind `now` (default 0). */
  graceMs?: number;
  /** Most orders in this transaction (default: all of `orderIds`, or 500). */
  limit?: number;
}

/** What each order gave back, per kind. */
function returnedByOrder(holds: readonly Hold[]): Map<string, AmountsByKind> {
  const byOrder = new Map<string, Hold[]>();
  for (const h of holds) {
    const own = byOrder.get(h.orderId);
    if (own) own.push(h);
    else byOrder.set(h.orderId, [h]);
  }
  return new Map([...byOrder].map(([id, own]) => [id, amountsByKind(own)]));
}

/**
 * Closes the orders that are still PENDING_PAYMENT and past their deadline, in one transaction: lock them
 * (the closer's batch in id order, the sweeper's oldest first), mark them CLOSED, give back everything they hold,
 * write their events. Orders that were paid, cancelled, closed already or are not yet due are left alone. Without
 * `orderIds`, locked rows are skipped, so several sweepers share the work.
 */
export async function closeDueOrders(db: Knex, opts: CloseDueOptions): Promise<ClosedOrder[]> {
  const timeout = transitionFor('timeout');
  const cutoff = new Date(opts.now.getTime() - (opts.graceMs ?? 0));
  if (opts.orderIds && opts.orderIds.length === 0) return [];
  return db.transaction(async (trx) => {
    const query = trx('orders')
      .select('id', 'expires_at', 'category')
      .where({ status: timeout.from })
      .andWhere('expires_at', '<=', cutoff)
      .limit(opts.limit ?? opts.orderIds?.length ?? 500);
    if (opts.orderIds)
      query
        .whereIn('id', opts.orderIds as string[])
        .orderBy('id')
        .forUpdate();
    // Oldest first, in the order of the (status, expires_at) index (which ends with the primary key), so the scan
    // stops after `limit` rows. Ordered by id it would read, sort and lock every overdue order to close `limit`
    // of them: a backlog of N orders would cost N row locks per batch. SKIP LOCKED never waits on an order, so
    // this order cannot deadlock with the id-ordered closer.
    else
      query
        .orderBy([{ column: 'expires_at' }, { column: 'id' }])
        .forUpdate()
        .skipLocked();
    const due = (await query) as { id: number | string; expires_at: Date; category: string }[];
    if (due.length === 0) return [];
    const ids = due.map((r) => String(r.id));
    // Two round trips for the rest, whatever the batch size: close and read what they hold; give it all back
    // (a few statements per kind for the whole batch) and record the events.
    const [, ...held] = await runTogetherRaw(trx, [
      trx('orders')
        .update({ status: timeout.to, closed_at: opts.now, updated_at: opts.now })
        .whereIn('id', ids)
        .andWhere({ status: timeout.from }),
      ...heldQueries(trx, ids),
    ]);
    const holds = toHolds(held);
    await runChecked(trx, [
      ...holdStatements(timeout.holds, trx, holds, opts.now),
      eventRows(trx, ids, timeout, opts.source, opts.now),
    ]);
    const returned = returnedByOrder(holds);
    return due.map((r) => ({
      id: String(r.id),
      category: r.category,
      expiresAt: r.expires_at,
      closedAt: opts.now,
      returned: returned.get(String(r.id)) ?? {},
    }));
  });
}
