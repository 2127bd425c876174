import type { Knex } from 'knex';
import type { Hold } from '../../domain/holds';
import { AppError } from '../../errors';
import { HoldConflictError, HoldsUnavailableError, type CheckedStatement, type HoldStore } from './hold-store';
import { holdTotalsSql, selectRows } from './order-holds';

/** `(id, order_id) IN ((?, ?), …)`: each coupon with the order that holds it. */
function couponsOf(holds: readonly Hold[]): { sql: string; bindings: string[] } {
  return {
    sql: `(id, order_id) IN (${holds.map(() => '(?, ?)').join(', ')})`,
    bindings: holds.flatMap((h) => [h.resourceId, h.orderId]),
  };
}

/** Moves the coupons held by these orders from HELD to `to` (order cleared when AVAILABLE again). */
function fromHeld(
  trx: Knex.Transaction,
  holds: readonly Hold[],
  to: 'AVAILABLE' | 'USED',
  now: Date,
): CheckedStatement[] {
  if (holds.length === 0) return [];
  const which = couponsOf(holds);
  return [
    {
      statement: trx.raw(
        `UPDATE coupons SET status = ?, ${to === 'AVAILABLE' ? 'order_id = NULL, ' : ''}updated_at = ?
          WHERE status = 'HELD' AND ${which.sql}`,
        [to, now, ...which.bindings],
      ),
      expectRows: holds.length,
      onMismatch: () =>
        new HoldConflictError('coupon', `a coupon not HELD by its order (${to === 'USED' ? 'pay' : 'give back'})`),
    },
  ];
}

/**
 * Coupons: a coupon is AVAILABLE, HELD by one pending order, or USED by a paid one. The hold is the coupon row
 * itself (status and order_id), recorded in order_holds too so that it is read with the order's other holds.
 */
export const couponHolds: HoldStore = {
  kind: 'coupon',

  take: ({ trx, orderId, customerId, now, itemsCents }, claims) =>
    claims.map((c) => ({
      statement: trx('coupons')
        .update({ status: 'HELD', order_id: orderId, updated_at: now })
        .where({ id: c.resourceId, status: 'AVAILABLE', customer_id: customerId })
        .andWhere('expires_at', '>', now)
        .andWhere('min_total_cents', '<=', itemsCents),
      expectRows: 1,
      onMismatch: () =>
        new AppError(409, 'coupon-unavailable', 'Coupon unavailable', `coupon ${c.resourceId} was taken meanwhile`, {
          couponId: c.resourceId,
        }),
    })),

  giveBack: (trx, holds, now) => fromHeld(trx, holds, 'AVAILABLE', now),

  keep: (trx, holds, now) => fromHeld(trx, holds, 'USED', now),

  // Straight to USED: the late payment paid for it. Its expiry is not checked again: the price was agreed before.
  retake: (trx, holds, now) =>
    holds.map((h) => ({
      statement: trx('coupons')
        .update({ status: 'USED', order_id: h.orderId, updated_at: now })
        .where({ id: h.resourceId, status: 'AVAILABLE', customer_id: h.customerId }),
      expectRows: 1,
      onMismatch: () => new HoldsUnavailableError('coupon'),
    })),

  async audit(db) {
    const totals = holdTotalsSql('coupon');
    const rows = await selectRows<{
      id: number;
      status: string;
      order_id: number | null;
      holders: string | null;
      keepers: string | null;
    }>(
      db,
      `SELECT c.id, c.status, c.order_id, t.holders, t.keepers
         FROM coupons c LEFT JOIN (${totals.sql}) t ON CAST(t.resource_id AS UNSIGNED) = c.id
        WHERE NOT (
              (c.status = 'AVAILABLE' AND COALESCE(t.holders, 0) = 0 AND COALESCE(t.keepers, 0) = 0)
           OR (c.status = 'HELD' AND t.holders = 1 AND COALESCE(t.keepers, 0) = 0 AND c.order_id = t.holder)
           OR (c.status = 'USED' AND COALESCE(t.holders, 0) = 0 AND t.keepers = 1 AND c.order_id = t.keeper))
        ORDER BY c.id`,
      totals.bindings,
    );
    return {
      kind: 'coupon',
      rule: 'coupons not held as they should be (HELD: by exactly its one pending order; USED: by its one paid order; AVAILABLE: by none)',
      columns: ['couponId', 'status', 'orderId', 'pendingHolders', 'paidHolders'],
      mismatches: rows.map((r) => ({
        couponId: String(r.id),
        status: r.status,
        orderId: r.order_id === null ? null : String(r.order_id),
        pendingHolders: Number(r.holders ?? 0),
        paidHolders: Number(r.keepers ?? 0),
      })),
    };
  },
};
