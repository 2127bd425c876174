import { AppError, notFound } from '../errors';
import { amountsByKind } from '../domain/holds';
import { transitionFor, type EventSource, type OrderEvent } from '../domain/order-lifecycle';
import { applyTransition, closeDueOrders } from '../db/order-transitions';
import { findOrder, listOrderEvents, type Order, type OrderEventRecord } from '../db/orders-repo';
import { retryOnConflict } from '../db/retry';
import type { UseCaseDeps } from './use-case-deps';

/**
 * Closes the order if it is PENDING_PAYMENT past its deadline, so nobody ever sees, pays or ships an
 * expired order as pending. Returns the order as it now stands.
 */
export async function settleDeadline(ctx: UseCaseDeps, order: Order, source: EventSource): Promise<Order> {
  const now = ctx.now();
  if (order.status !== 'PENDING_PAYMENT' || order.expiresAt.getTime() > now.getTime()) return order;
  const closed = await retryOnConflict(() => closeDueOrders(ctx.db, { orderIds: [order.id], source, now }));
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

/** Applies a buyer's or merchant's event (cancel, ship, complete); 409 when the order's state forbids it. */
export async function changeOrder(
  ctx: UseCaseDeps,
  id: string,
  event: Extract<OrderEvent, 'cancel' | 'ship' | 'complete'>,
  source: EventSource = 'http',
): Promise<Order> {
  const transition = transitionFor(event);
  const { applied, holds } = await retryOnConflict(() =>
    applyTransition(ctx.db, { orderId: id, transition, source, now: ctx.now() }),
  );
  const found = await findOrder(ctx.db, id);
  if (!found) throw notFound('order', id);
  if (applied) {
    if (transition.holds === 'release') ctx.onReturned?.(amountsByKind(holds));
    return found;
  }

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
