import type { Knex } from 'knex';
import { amountsByKind, type AmountsByKind, type Hold } from '../domain/holds';
import type { EventSource, Transition } from '../domain/order-lifecycle';
import { PAYMENT_TIMEOUT, timerTransition, type TimerKind } from '../domain/timer-kinds';
import { eventTypeFor } from '../domain/order-event-types';
import { heldQueries, holdStatements, runChecked, toHolds, type CheckedStatement } from './holds';
import { bumpEventSeq, eventsFor, type EventWriting } from './order-event-outbox';
import { ordersFromRows, ordersWithItems, type Order } from './orders-repo';
import { affectedRows, runTogetherRaw, type StatementResult } from './run-together';

export interface TransitionRequest {
  orderId: string;
  transition: Transition;
  source: EventSource;
  now: Date;
  /** Stored with a `pay` or `revive`. */
  paymentRef?: string;
  /** More statements for the same transaction, sent with its last round trip (the payment's row, timer rows). */
  alsoWrite?: (trx: Knex.Transaction) => CheckedStatement[];
  /** More orders columns set by the compare-and-set (the due times of the timers it starts). */
  alsoSet?: Record<string, unknown>;
  /** Writes the transition's event for other systems; omitted when events are off. */
  events?: EventWriting;
}

/** What {@link applyTransition} did. */
export interface TransitionOutcome {
  /** False when the order was not in a state (or on a side of its deadline) that allows the transition. */
  applied: boolean;
  /** What the order holds, which the transition gave back, kept or took back as the table says. */
  holds: Hold[];
  /** The results of `alsoWrite`'s statements (insert ids), when applied. */
  written: StatementResult[];
  /** The order as the transition left it (read in the transaction), when it applied. */
  order?: Order;
}

/** The `order_events` rows of one transition applied to these orders. */
function eventRows(trx: Knex.Transaction, ids: readonly string[], t: Transition, source: EventSource, at: Date) {
  return {
    statement: trx('order_events').insert(
      ids.map((id) => ({ order_id: id, event: t.event, from_status: t.from, to_status: t.to, source, at })),
    ),
  };
}

/** The orders columns a transition sets: its state, its stamp, the due column it clears, the event sequence. */
function transitionUpdate(trx: Knex.Transaction, t: Transition, now: Date): Record<string, unknown> {
  const update: Record<string, unknown> = { status: t.to, updated_at: now, ...bumpEventSeq(trx) };
  if (t.stamps) update[t.stamps] = now;
  if (t.clears) update[t.clears] = null;
  return update;
}

/** Narrows `query` to orders whose deadline stands where `t` needs it at `now` (see {@link deadlineAllows}). */
function whereDeadline(query: Knex.QueryBuilder, t: Transition, now: Date): Knex.QueryBuilder {
  if (t.deadline === 'before') query.andWhere('expires_at', '>', now);
  if (t.deadline === 'after') query.andWhere('expires_at', '<=', now);
  return query;
}

/**
 * Applies one transition as a compare-and-set on its `from` state (and on the deadline, where the table asks),
 * and does with everything the order holds what the table says (give back, keep, take back), in one transaction
 * of two round trips. A retake that finds anything gone throws HoldsUnavailableError: nothing changes.
 */
export async function applyTransition(db: Knex, req: TransitionRequest): Promise<TransitionOutcome> {
  const { transition: t, now } = req;
  return db.transaction(async (trx) => {
    const update = { ...req.alsoSet, ...transitionUpdate(trx, t, now) };
    if (req.paymentRef !== undefined) update.payment_ref = req.paymentRef;
    const query = whereDeadline(trx('orders').update(update).where({ id: req.orderId, status: t.from }), t, now);
    // The order as it now stands and what it holds are read in the same round trip, after the update locked it.
    const reads = t.holds === 'unchanged' ? [] : heldQueries(trx, [req.orderId]);
    const [changed, orderRows, ...held] = await runTogetherRaw(trx, [
      query,
      ordersWithItems(trx, [req.orderId]),
      ...reads,
    ]);
    if (affectedRows(changed) !== 1) return { applied: false, holds: [], written: [] };
    const holds = toHolds(held);
    const order = ordersFromRows(orderRows as unknown[]).get(req.orderId)!;
    const events = req.events && eventsFor(trx, req.events, eventTypeFor(t.event), [order], now);
    const also = req.alsoWrite?.(trx) ?? [];
    const statements = [...holdStatements(t.holds, trx, holds, now), eventRows(trx, [req.orderId], t, req.source, now)];
    const results = await runChecked(trx, [...statements, ...also, ...(events ? [events.statement] : [])]);
    events?.inserted(results.at(-1));
    const written = results.slice(statements.length, statements.length + also.length);
    return { applied: true, holds, written, order: order.order };
  });
}

/** An order whose timer fired: what the closer, the sweeper and metrics need to know about it. */
export interface FiredOrder {
  id: string;
  /** The order's category (see {@link Order.category}), for metrics. */
  category: string;
  /** When the timer was due (`expires_at` of a payment timeout). */
  dueAt: Date;
  /** When it fired. */
  firedAt: Date;
  /** What the transition gave back, per kind (stock units, coupons, promotion units, points); empty when none. */
  returned: AmountsByKind;
}

/** An order closed by its payment timeout. */
export interface ClosedOrder {
  id: string;
  /** The order's category (see {@link Order.category}), for metrics. */
  category: string;
  expiresAt: Date;
  closedAt: Date;
  /** What the close gave back, per kind (stock units, coupons, promotion units, points). */
  returned: AmountsByKind;
}

/** A fired payment timeout as a closed order. */
export const asClosed = (f: FiredOrder): ClosedOrder => ({
  id: f.id,
  category: f.category,
  expiresAt: f.dueAt,
  closedAt: f.firedAt,
  returned: f.returned,
});

/** Options for {@link fireDueTimers} and {@link closeDueOrders}. */
export interface CloseDueOptions {
  /** Only these orders (the closer's batch); omitted: any due order (the sweeper). */
  orderIds?: readonly string[];
  source: EventSource;
  now: Date;
  /** Only orders whose timer was due at least this long before `now` (default 0). */
  graceMs?: number;
  /** Most orders in this transaction (default: all of `orderIds`, or 500). */
  limit?: number;
  /** Writes an event per order for other systems (one multi-row insert); omitted when events are off. */
  events?: EventWriting;
  /** Orders to leave out (the sweeper's orders whose timer failed to fire on its own). */
  excludeIds?: readonly string[];
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
 * Fires the due timers of one kind, in one transaction: lock the orders still in the kind's state whose timer is
 * due (the closer's batch in id order, the sweeper's oldest first), apply the kind's transition, do with what they
 * hold what it says, write their events. Orders that moved on or are not yet due are left alone. Without
 * `orderIds`, locked rows are skipped, so several sweepers share the work.
 */
export async function fireDueTimers(db: Knex, kind: TimerKind, opts: CloseDueOptions): Promise<FiredOrder[]> {
  const t = timerTransition(kind);
  const dueColumn = kind.dueColumn;
  const cutoff = new Date(opts.now.getTime() - (opts.graceMs ?? 0));
  if (opts.orderIds && opts.orderIds.length === 0) return [];
  return db.transaction(async (trx) => {
    // The deadline condition adds nothing for a payment timeout (due at the deadline) and keeps a reminder from
    // firing after it.
    const query = whereDeadline(
      trx('orders')
        .select('id', `${dueColumn} AS due_at`, 'category')
        .where({ status: t.from })
        .andWhere(dueColumn, '<=', cutoff),
      t,
      opts.now,
    ).limit(opts.limit ?? opts.orderIds?.length ?? 500);
    if (opts.excludeIds?.length) query.whereNotIn('id', opts.excludeIds as string[]);
    if (opts.orderIds)
      query
        .whereIn('id', opts.orderIds as string[])
        .orderBy('id')
        .forUpdate();
    // Oldest first, in the order of the (status, due column) index (which ends with the primary key), so the scan
    // stops after `limit` rows. Ordered by id it would read, sort and lock every due order to fire `limit` of
    // them: a backlog of N orders would cost N row locks per batch. SKIP LOCKED never waits on an order, so this
    // order cannot deadlock with the id-ordered closer.
    else
      query
        .orderBy([{ column: dueColumn }, { column: 'id' }])
        .forUpdate()
        .skipLocked();
    const due = (await query) as { id: number | string; due_at: Date; category: string }[];
    if (due.length === 0) return [];
    const ids = due.map((r) => String(r.id));
    const update = transitionUpdate(trx, t, opts.now);
    // Two round trips for the rest, whatever the batch size: apply and read what they hold (and, with events on,
    // the orders as changed: the events' bodies); give it all back (a few statements per kind for the whole
    // batch) and record the events.
    const [, ...read] = await runTogetherRaw(trx, [
      trx('orders').update(update).whereIn('id', ids).andWhere({ status: t.from }),
      ...(opts.events ? [ordersWithItems(trx, ids)] : []),
      ...(t.holds === 'unchanged' ? [] : heldQueries(trx, ids)),
    ]);
    const holds = toHolds(opts.events ? read.slice(1) : read);
    const events =
      opts.events &&
      eventsFor(trx, opts.events, eventTypeFor(t.event), [...ordersFromRows(read[0] as unknown[]).values()], opts.now);
    const results = await runChecked(trx, [
      ...holdStatements(t.holds, trx, holds, opts.now),
      eventRows(trx, ids, t, opts.source, opts.now),
      ...(events ? [events.statement] : []),
    ]);
    events?.inserted(results.at(-1));
    const returned = returnedByOrder(holds);
    return due.map((r) => ({
      id: String(r.id),
      category: r.category,
      dueAt: r.due_at,
      firedAt: opts.now,
      returned: returned.get(String(r.id)) ?? {},
    }));
  });
}

/**
 * Closes the orders that are still PENDING_PAYMENT and past their deadline (the payment timeout, see
 * {@link fireDueTimers}), giving back everything they hold.
 */
export async function closeDueOrders(db: Knex, opts: CloseDueOptions): Promise<ClosedOrder[]> {
  return (await fireDueTimers(db, PAYMENT_TIMEOUT, opts)).map(asClosed);
}

/**
 * Ids of the oldest orders whose `kind` timer is due, without locking them: what a failed sweeper batch held, so
 * the sweeper can fire them one at a time (each then checked again under its lock).
 */
export async function findDueOrderIds(
  db: Knex,
  kind: TimerKind,
  opts: Required<Pick<CloseDueOptions, 'now' | 'limit'>> & Pick<CloseDueOptions, 'graceMs' | 'excludeIds'>,
): Promise<string[]> {
  const query = db('orders')
    .select('id')
    .where({ status: timerTransition(kind).from })
    .andWhere(kind.dueColumn, '<=', new Date(opts.now.getTime() - (opts.graceMs ?? 0)))
    .orderBy([{ column: kind.dueColumn }, { column: 'id' }])
    .limit(opts.limit);
  if (opts.excludeIds?.length) query.whereNotIn('id', opts.excludeIds as string[]);
  return ((await query) as { id: number | string }[]).map((r) => String(r.id));
}
