import { AppError, notFound } from '../errors';
import { HoldsUnavailableError } from '../db/holds';
import { applyTransition } from '../db/order-transitions';
import { findOrder, type Order } from '../db/orders-repo';
import {
  capturedPayment,
  findPayment,
  storeRefundRequired,
  type Payment,
  type PaymentNotice,
  type RefundReason,
} from '../db/payments-repo';
import { retryOnConflict } from '../db/retry';
import { transitionFor, type OrderStatus } from '../domain/order-lifecycle';
import { logger } from '../log';
import { settleDeadline } from './order-actions';
import type { UseCaseDeps } from './use-case-deps';

/** What became of a payment notification: it paid (or revived) the order, or it must be refunded. */
export type PaymentResult =
  | { status: 200; order: Order }
  | { status: 202; refund: { orderId: string; paymentRef: string; status: 'REFUND_REQUIRED' } };

/** How a payment for an order that timed out is handled (`LATE_PAYMENT_POLICY`). */
export type LatePaymentPolicy = 'revive' | 'refund';

/** Rounds of read-decide-apply before giving up on an order that keeps changing under the payment. */
const MAX_ROUNDS = 5;

const refundBody = (n: PaymentNotice) =>
  ({ status: 202, refund: { orderId: n.orderId, paymentRef: n.paymentRef, status: 'REFUND_REQUIRED' } }) as const;

/** A reference seen before: the same notification gets the same answer; another one reusing it, a 409. */
async function replay(ctx: UseCaseDeps, stored: Payment, n: PaymentNotice): Promise<PaymentResult> {
  if (stored.orderId !== n.orderId || stored.amountCents !== n.amountCents) {
    throw new AppError(
      409,
      'payment-ref-mismatch',
      'Payment reference reused',
      `paymentRef ${n.paymentRef} was already used for ${stored.amountCents} cents on order ${stored.orderId}`,
      { orderId: stored.orderId },
    );
  }
  if (stored.status !== 'CAPTURED') return refundBody(n);
  return { status: 200, order: (await findOrder(ctx.db, n.orderId))! };
}

/**
 * The order as the pay or revive transition just left it: read before, and the compare-and-set on its state
 * guarantees nothing else changed since. Saves reading it again, which matters: payments arrive in bursts.
 */
const paidNow = (before: Order, n: PaymentNotice, now: Date): Order => ({
  ...before,
  status: 'PAID',
  paymentRef: n.paymentRef,
  paidAt: now,
});

/** Pays (or revives) the order with the payment stored CAPTURED in the same transaction. */
const capture = (ctx: UseCaseDeps, n: PaymentNotice, event: 'pay' | 'revive', now: Date) =>
  retryOnConflict(() =>
    applyTransition(ctx.db, {
      orderId: n.orderId,
      transition: transitionFor(event),
      source: 'http',
      now,
      paymentRef: n.paymentRef,
      alsoWrite: (trx) => [capturedPayment(trx, n, now)],
      events: ctx.events,
    }),
  );

/** Stores the payment as REFUND_REQUIRED if the order is still `status`; undefined when it moved meanwhile. */
async function refund(
  ctx: UseCaseDeps,
  n: PaymentNotice,
  reason: RefundReason,
  status: OrderStatus,
): Promise<PaymentResult | undefined> {
  const stored = await retryOnConflict(() => storeRefundRequired(ctx.db, n, reason, status, ctx.now(), ctx.events));
  if (!stored) return undefined;
  logger.warn('payment stored for refund', { orderId: n.orderId, paymentRef: n.paymentRef, reason });
  ctx.onRefundRequired?.(reason);
  return refundBody(n);
}

/**
 * A payment after the close: with policy `revive`, take back everything the order held and make it PAID, in one
 * transaction; when anything is gone (or with policy `refund`), the payment is stored for a refund.
 */
async function late(ctx: UseCaseDeps, closed: Order, n: PaymentNotice): Promise<PaymentResult | undefined> {
  let result: PaymentResult | undefined;
  if (ctx.latePaymentPolicy === 'revive') {
    try {
      const now = ctx.now();
      const { applied } = await capture(ctx, n, 'revive', now);
      if (!applied) return undefined;
      const order = paidNow(closed, n, now);
      logger.info('late payment revived the order', { orderId: n.orderId, paymentRef: n.paymentRef });
      ctx.onPaid?.(order);
      ctx.onLatePayment?.('revived');
      return { status: 200, order };
    } catch (err) {
      if (!(err instanceof HoldsUnavailableError)) throw err;
      logger.info('late payment cannot revive the order', { orderId: n.orderId, unavailable: err.kind });
      result = await refund(ctx, n, 'holds-unavailable', 'CLOSED');
    }
  } else {
    result = await refund(ctx, n, 'late-payment', 'CLOSED');
  }
  if (result) ctx.onLatePayment?.('refund');
  return result;
}

/** Applies the payment to the order as it stands; undefined when the order moved meanwhile (decide again). */
async function apply(ctx: UseCaseDeps, order: Order, n: PaymentNotice): Promise<PaymentResult | undefined> {
  switch (order.status) {
    case 'PENDING_PAYMENT': {
      const now = ctx.now();
      if (order.expiresAt.getTime() <= now.getTime()) {
        // Never paid as pending past its deadline: close it first; the next round treats the payment as late.
        await settleDeadline(ctx, order, 'read');
        return undefined;
      }
      const { applied } = await capture(ctx, n, 'pay', now);
      if (!applied) return undefined;
      const paid = paidNow(order, n, now);
      ctx.onPaid?.(paid);
      return { status: 200, order: paid };
    }
    case 'CLOSED':
      return late(ctx, order, n);
    case 'CANCELLED':
      return refund(ctx, n, 'order-cancelled', 'CANCELLED');
    default:
      // Paid already with another reference (the same one would have been found stored).
      return refund(ctx, n, 'already-paid', order.status);
  }
}

/**
 * The payment provider's notification (contract §8). Every accepted notification is stored in `payments`, in the
 * transaction that pays or revives the order or on its own for a refund: money is never lost, and a replay (same
 * `paymentRef`) is stored once and answered the same way. The amount must be the order's total (409 otherwise,
 * nothing stored).
 */
export async function receivePayment(ctx: UseCaseDeps, n: PaymentNotice): Promise<PaymentResult> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const stored = await findPayment(ctx.db, n.paymentRef);
    if (stored) return replay(ctx, stored, n);
    const order = await findOrder(ctx.db, n.orderId);
    if (!order) throw notFound('order', n.orderId);
    if (n.amountCents !== order.totalCents) {
      throw new AppError(
        409,
        'amount-mismatch',
        'Amount mismatch',
        `order ${order.id} costs ${order.totalCents} cents; the payment says ${n.amountCents}; nothing was stored`,
        { totalCents: order.totalCents, amountCents: n.amountCents },
      );
    }
    try {
      const result = await apply(ctx, order, n);
      if (result) return result;
    } catch (err) {
      // The same reference stored by a concurrent request: the next round answers as it did.
      if ((err as { code?: string }).code !== 'ER_DUP_ENTRY') throw err;
    }
  }
  throw new Error(`order ${n.orderId} kept changing under payment ${n.paymentRef}; not settled`);
}
