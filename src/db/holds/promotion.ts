import type { HoldClaim } from '../../domain/holds';
import { AppError } from '../../errors';
import { CUSTOMER_UNITS_SQL } from '../promotions-repo';
import { HoldConflictError, HoldsUnavailableError, mover, type Change, type HoldStore } from './hold-store';
import { holdTotalsSql, selectRows } from './order-holds';

/** Moves the units counted in `promotions.sold` by the summed amounts, guarded. */
const moveSold = mover('promotions', 'id');

const TAKE: Change = { moves: [{ column: 'sold', sign: '+' }], guard: (a) => `sold + ${a} <= quota` };
const GIVE_BACK: Change = { moves: [{ column: 'sold', sign: '-' }], guard: (a) => `sold >= ${a}` };

const soldOut = (claims: readonly HoldClaim[]) =>
  new AppError(409, 'promotion-sold-out', 'Promotion sold out', 'the promotion sold out meanwhile; nothing was taken', {
    promotionIds: claims.map((c) => c.resourceId),
  });

/**
 * Promotion quota: units of a flash sale, counted in `promotions.sold`; recorded in order_holds (with the
 * customer, whose units under perCustomerLimit are counted from them).
 */
export const promotionHolds: HoldStore = {
  kind: 'promotion',

  // Within the quota; the per-customer limit was checked from the customer's orders under this row's lock
  // (create-reads), which every create and revive of the promotion takes first.
  take: ({ trx, now }, claims) => moveSold(trx, claims, now, TAKE, () => soldOut(claims)),

  giveBack: (trx, holds, now) =>
    moveSold(
      trx,
      holds,
      now,
      GIVE_BACK,
      () => new HoldConflictError('promotion', 'a promotion counted fewer units than its orders hold'),
    ),

  keep: () => [],

  // The quota and the customer's limit are checked again (the order, PAID already in this transaction, counts
  // itself); the promotion's end is not: the price was agreed before.
  retake: (trx, holds, now) =>
    holds.map((h) => ({
      statement: trx.raw(
        `UPDATE promotions SET sold = sold + ?, updated_at = ?
          WHERE id = ? AND sold + ? <= quota AND ${CUSTOMER_UNITS_SQL} <= per_customer_limit`,
        [h.amount, now, h.resourceId, h.amount, h.resourceId, h.customerId],
      ),
      expectRows: 1,
      onMismatch: () => new HoldsUnavailableError('promotion'),
    })),

  async audit(db) {
    const totals = holdTotalsSql('promotion');
    const quota = await selectRows<{ id: number; sold: number; held: string | null; kept: string | null }>(
      db,
      `SELECT p.id, p.sold, t.held, t.kept
         FROM promotions p LEFT JOIN (${totals.sql}) t ON CAST(t.resource_id AS UNSIGNED) = p.id
        WHERE p.sold <> COALESCE(t.held, 0) + COALESCE(t.kept, 0)
        ORDER BY p.id`,
      totals.bindings,
    );
    return {
      kind: 'promotion',
      rule: 'promotion units not conserved (sold should equal what pending and paid orders hold)',
      columns: ['promotionId', 'sold', 'onOrders', 'difference'],
      mismatches: quota.map((r) => {
        const onOrders = Number(r.held ?? 0) + Number(r.kept ?? 0);
        return { promotionId: String(r.id), sold: r.sold, onOrders, difference: r.sold - onOrders };
      }),
    };
  },
};
