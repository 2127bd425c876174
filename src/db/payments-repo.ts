import type { Knex } from 'knex';
import { SOLD_STATUSES, type OrderStatus } from '../domain/order-lifecycle';
import type { AuditFinding, CheckedStatement } from './holds';
import { marks } from './holds/hold-store';
import { writeOrderEvent, type EventWriting } from './order-event-outbox';

export const PAYMENT_STATUSES = ['CAPTURED', 'REFUND_REQUIRED', 'REFUNDED'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Why a payment could not be kept and must be refunded. */
export type RefundReason = 'order-cancelled' | 'already-paid' | 'late-payment' | 'holds-unavailable';

/** A payment notification as the provider sent it. */
export interface PaymentNotice {
  orderId: string;
  paymentRef: string;
  amountCents: number;
}

export interface Payment extends PaymentNotice {
  status: PaymentStatus;
  /** Why a refund is (or was) required; null for a captured payment. */
  reason: RefundReason | null;
  receivedAt: Date;
  refundedAt: Date | null;
}

interface PaymentRow {
  payment_ref: string;
  order_id: number | string;
  amount_cents: number | string;
  status: PaymentStatus;
  reason: RefundReason | null;
  received_at: Date;
  refunded_at: Date | null;
}

const toPayment = (r: PaymentRow): Payment => ({
  paymentRef: r.payment_ref,
  orderId: String(r.order_id),
  amountCents: Number(r.amount_cents),
  status: r.status,
  reason: r.reason,
  receivedAt: r.received_at,
  refundedAt: r.refunded_at,
});

/** The statement storing a payment that paid its order, for the transaction that pays or revives it. */
export function capturedPayment(trx: Knex.Transaction, n: PaymentNotice, now: Date): CheckedStatement {
  return {
    statement: trx('payments').insert({
      payment_ref: n.paymentRef,
      order_id: n.orderId,
      amount_cents: n.amountCents,
      status: 'CAPTURED',
      reason: null,
      received_at: now,
    }),
  };
}

/**
 * Stores a payment its order cannot take, as REFUND_REQUIRED, if the order is still `orderStatus`: a
 * compare-and-set on the order, locked for the insert. False when the order moved meanwhile. A replayed reference
 * surfaces as ER_DUP_ENTRY. With `events`, writes the order's `refund_required` event in the same transaction.
 */
export async function storeRefundRequired(
  db: Knex,
  n: PaymentNotice,
  reason: RefundReason,
  orderStatus: OrderStatus,
  now: Date,
  events?: EventWriting,
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const order = (await trx('orders').where({ id: n.orderId }).first('status').forUpdate()) as
      { status: OrderStatus } | undefined;
    if (order?.status !== orderStatus) return false;
    await trx('payments').insert({
      payment_ref: n.paymentRef,
      order_id: n.orderId,
      amount_cents: n.amountCents,
      status: 'REFUND_REQUIRED',
      reason,
      received_at: now,
    });
    if (events) await writeOrderEvent(trx, events, n.orderId, 'refund_required', now);
    return true;
  });
}

export async function findPayment(db: Knex, paymentRef: string): Promise<Payment | undefined> {
  const row = (await db('payments').where({ payment_ref: paymentRef }).first()) as PaymentRow | undefined;
  return row ? toPayment(row) : undefined;
}

/** Payments, oldest first, of one status or all; at most `limit`. */
export async function listPayments(db: Knex, opts: { status?: PaymentStatus; limit: number }): Promise<Payment[]> {
  const query = db('payments').orderBy('id').limit(opts.limit);
  if (opts.status) query.where({ status: opts.status });
  return ((await query) as PaymentRow[]).map(toPayment);
}

/** Marks a REFUND_REQUIRED payment REFUNDED (compare-and-set); returns the payment as it now stands, if any. */
export async function markRefunded(
  db: Knex,
  paymentRef: string,
  now: Date,
): Promise<{ changed: boolean; payment?: Payment }> {
  const changed = await db('payments')
    .update({ status: 'REFUNDED', refunded_at: now })
    .where({ payment_ref: paymentRef, status: 'REFUND_REQUIRED' });
  return { changed: changed === 1, payment: await findPayment(db, paymentRef) };
}

/**
 * Money in the payments table against the orders: every paid (or shipped, completed) order has exactly one
 * CAPTURED payment of its total, and no other order has one. With that, the sum of all payments is the sum over
 * paid orders plus the sum of the payments kept for refunds: none lost, none counted twice.
 */
export async function auditPayments(db: Knex): Promise<AuditFinding> {
  const sold = marks(SOLD_STATUSES.length);
  const [rows] = (await db.raw(
    `SELECT o.id, o.status, o.total_cents, COUNT(p.id) AS captured, COALESCE(SUM(p.amount_cents), 0) AS captured_cents
       FROM orders o LEFT JOIN payments p ON p.order_id = o.id AND p.status = 'CAPTURED'
      GROUP BY o.id, o.status, o.total_cents
     HAVING (o.status IN (${sold}) AND (COUNT(p.id) <> 1 OR COALESCE(SUM(p.amount_cents), 0) <> o.total_cents))
         OR (o.status NOT IN (${sold}) AND COUNT(p.id) > 0)
      ORDER BY o.id`,
    [...SOLD_STATUSES, ...SOLD_STATUSES],
  )) as [
    {
      id: number;
      status: string;
      total_cents: number | string;
      captured: number | string;
      captured_cents: number | string;
    }[],
  ];
  return {
    rule: 'payments not matching their orders (a paid order has exactly one captured payment of its total; no other order has one)',
    columns: ['orderId', 'status', 'totalCents', 'capturedPayments', 'capturedCents'],
    mismatches: rows.map((r) => ({
      orderId: String(r.id),
      status: r.status,
      totalCents: Number(r.total_cents),
      capturedPayments: Number(r.captured),
      capturedCents: Number(r.captured_cents),
    })),
  };
}
