import { AppError, notFound } from '../errors';
import { amountsByKind } from '../domain/holds';
import { transitionFor, type EventSource, type OrderEvent } from '../domain/order-lifecycle';
import { applyTransition, closeDueOrders } from '../db/order-transitions';
import { findOrder, listOrderEvents, type Order, type OrderEventRecord } from '../db/orders-repo';
import { retryOnConflict } from '../db/retry';
import { dueColumns, timerDues, timerRows, type TimerRows } from './start-timers';
import type { UseCaseDeps } from './use-case-deps';

/**
 * Closes the order if it is PENDING_PAYMENT past its deadline, so nobody ever sees, pays or ships an
 * expired order as pending. Returns the order as it now stands.
 */
export async function settleDeadline(ctx: UseCaseDeps, order: Order, source: EventSource): Promise<Order> {
  const now = ctx.now();
  if (order.status !== 'PENDING_PAYMENT' || order.expiresAt.getTime() > now.getTime()) return order;
  const closed = await retryOnConflict(() =>
    closeDueOrders(ctx.db, { orderIds: [order.id], source, now, events: ctx.events }),
  );
  if (closed.length > 0) ctx.onClosed?.(closed, source);
  return (await findOrder(ctx.db, order.id))!;
}

export async function readOrder(ctx: UseCaseDeps, id: string): Promise<Order> {
  const order = await findOrder(ctx.db, id);
  if (!order) throw notFound('order', id);
  return settleDeadline(ctx, order, 'read');
}

export async function readOrderEvents(ctx: UseCaseDeps, id: string): Promise<OrderEventRecord[]> {
  await readOrder(ctx, id);
  return listOrderEvents(ctx.db, id);
}

/**
 * Applies `event` to the order, and starts the timers it starts (shipping: auto-complete) in the same transaction:
 * their due times on the order, from the policy in force now, and their messages in the outbox.
 */
async function applyStartingTimers(ctx: UseCaseDeps, id: string, event: OrderEvent, source: EventSource) {
  const now = ctx.now();
  // Per-category durations would need the order's items; the timers a transition starts do not use them yet.
  const dues = timerDues(ctx.policy.current().policy, event, { categories: [] }, now);
  let rows: TimerRows | undefined;
  const outcome = await applyTransition(ctx.db, {
    orderId: id,
    transition: transitionFor(event),
    source,
    now,
    alsoSet: dueColumns(dues),
    alsoWrite: (trx) => (rows = timerRows(trx, ctx, dues, id, now)).statements,
    events: ctx.events,
  });
  return { ...outcome, scheduled: rows && outcome.applied ? rows.written(id, outcome.written) : [] };
}

/** Applies a buyer's or merchant's event (cancel, ship, complete); 409 when the order's state forbids it. */
export async function changeOrder(
  ctx: UseCaseDeps,
  id: string,
  event: Extract<OrderEvent, 'cancel' | 'ship' | 'complete'>,
  source: EventSource = 'http',
): Promise<Order> {
  const transition = transitionFor(event);
  const {
    applied,
    holds,
    scheduled,
    order: changed,
  } = await retryOnConflict(() => applyStartingTimers(ctx, id, event, source));
  if (applied) {
    if (scheduled.length > 0) ctx.onScheduled?.(scheduled);
    if (transition.holds === 'release') ctx.onReturned?.(amountsByKind(holds));
    return changed!;
  }
  const found = await findOrder(ctx.db, id);
  if (!found) throw notFound('order', id);

  const order = await settleDeadline(ctx, found, 'read');
  if (found.status === 'PENDING_PAYMENT' && order.status === 'CLOSED') {
    throw new AppError(
      409,
      'payment-window-ended',
      'Payment window ended',
      `order ${id} passed its deadline ${order.expiresAt.toISOString()} and is closed`,
      { orderStatus: order.status },
    );
  }
  throw new AppError(
    409,
    'illegal-transition',
    'Illegal transition',
    `cannot ${event} an order that is ${order.status}`,
    { orderStatus: order.status, event },
  );
}
