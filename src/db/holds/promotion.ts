import type { Knex } from 'knex';
import { compareKeys, type Hold, type HoldClaim } from '../../domain/holds';
import { SOLD_STATUSES } from '../../domain/order-lifecycle';
import { AppError } from '../../errors';
import {
  HoldConflictError,
  HoldsUnavailableError,
  marks,
  mover,
  type CheckedStatement,
  type HoldStore,
} from './hold-store';
import { holdTotalsSql, selectRows } from './order-holds';

type Units = Pick<Hold, 'resourceId' | 'customerId' | 'amount'>;

const PER_CUSTOMER_LIMIT =
  '(SELECT p.per_customer_limit FROM promotions p WHERE p.id = promotion_customers.promotion_id)';

/**
 * One statement moving each customer's units of each promotion (`promotion_customers`, the per-customer limit's
 * counter) by the summed amounts, guarded; it must touch every (promotion, customer) pair.
 */
function moveCustomerUnits(
  trx: Knex.Transaction,
  holds: readonly Units[],
  sign: '+' | '-',
  guard: (unitsAfter: string) => string,
  onMismatch: () => Error,
): CheckedStatement[] {
  const sums = new Map<string, { promotionId: string; customerId: string; units: number }>();
  for (const h of holds) {
    const key = `${h.resourceId}\u0000${h.customerId}`;
    const pair = sums.get(key) ?? { promotionId: h.resourceId, customerId: h.customerId, units: 0 };
    sums.set(key, { ...pair, units: pair.units + h.amount });
  }
  const pairs = [...sums.values()].sort(
    (a, b) => compareKeys(a.promotionId, b.promotionId) || compareKeys(a.customerId, b.customerId),
  );
  if (pairs.length === 0) return [];
  const units = `CASE ${pairs.map(() => 'WHEN promotion_id = ? AND customer_id = ? THEN ?').join(' ')} END`;
  const unitBindings = pairs.flatMap((p) => [p.promotionId, p.customerId, p.units]);
  const statement = trx.raw(
    `UPDATE promotion_customers SET units = units ${sign} ${units}
      WHERE (promotion_id, customer_id) IN (${pairs.map(() => '(?, ?)').join(', ')})
        AND ${guard(`units ${sign} ${units}`)}`,
    [...unitBindings, ...pairs.flatMap((p) => [p.promotionId, p.customerId]), ...unitBindings],
  );
  return [{ statement, expectRows: pairs.length, onMismatch }];
}

/** Moves the units counted in `promotions.sold` by the summed amounts, guarded. */
const moveSold = mover('promotions', 'id');

/** Adds units to the quota sold and to each customer's count, within the quota and the per-customer limit. */
function takeUnits(
  trx: Knex.Transaction,
  holds: readonly Units[],
  now: Date,
  errors: { soldOut: (claims: readonly HoldClaim[]) => Error; limit: (claims: readonly HoldClaim[]) => Error },
): CheckedStatement[] {
  const claims = holds.map((h) => ({ kind: 'promotion' as const, ...h }));
  return [
    ...moveSold(trx, holds, now, { moves: [{ column: 'sold', sign: '+' }], guard: (a) => `sold + ${a} <= quota` }, () =>
      errors.soldOut(claims),
    ),
    ...moveCustomerUnits(
      trx,
      holds,
      '+',
      (after) => `${after} <= ${PER_CUSTOMER_LIMIT}`,
      () => errors.limit(claims),
    ),
  ];
}

const soldOut = (claims: readonly HoldClaim[]) =>
  new AppError(409, 'promotion-sold-out', 'Promotion sold out', 'the promotion sold out meanwhile; nothing was taken', {
    promotionIds: claims.map((c) => c.resourceId),
  });
const overLimit = (claims: readonly HoldClaim[]) =>
  new AppError(409, 'promotion-limit', 'Promotion limit reached', 'the per-customer limit was reached meanwhile', {
    promotionIds: claims.map((c) => c.resourceId),
  });
const unavailable = () => new HoldsUnavailableError('promotion');

/**
 * Promotion quota: units of a flash sale, counted in `promotions.sold` (all customers) and
 * `promotion_customers.units` (each customer, for perCustomerLimit); recorded in order_holds.
 */
export const promotionHolds: HoldStore = {
  kind: 'promotion',

  // The customer's counter row is made first if missing (a no-op when it exists), so the guarded update finds it.
  take: ({ trx, customerId, now }, claims) => [
    {
      statement: trx.raw(
        `INSERT INTO promotion_customers (promotion_id, customer_id, units) VALUES ${claims.map(() => '(?, ?, 0)').join(', ')}
         ON DUPLICATE KEY UPDATE units = units`,
        claims.flatMap((c) => [c.resourceId, customerId]),
      ),
    },
    ...takeUnits(
      trx,
      claims.map((c) => ({ ...c, customerId })),
      now,
      { soldOut, limit: overLimit },
    ),
  ],

  giveBack: (trx, holds, now) => {
    const conflict = () => new HoldConflictError('promotion', 'a promotion counted fewer units than its orders hold');
    return [
      ...moveSold(trx, holds, now, { moves: [{ column: 'sold', sign: '-' }], guard: (a) => `sold >= ${a}` }, conflict),
      ...moveCustomerUnits(trx, holds, '-', (after) => `${after} >= 0`, conflict),
    ];
  },

  keep: () => [],

  // The quota and the limit are checked again; the promotion's end is not: the price was agreed before.
  retake: (trx, holds, now) => takeUnits(trx, holds, now, { soldOut: unavailable, limit: unavailable }),

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
    const counted = ['PENDING_PAYMENT', ...SOLD_STATUSES];
    const perCustomer = await selectRows<{
      promotion_id: number;
      customer_id: string;
      units: number;
      n: string | null;
    }>(
      db,
      `SELECT c.promotion_id, c.customer_id, c.units, x.n
         FROM promotion_customers c
         LEFT JOIN (SELECT h.resource_id, o.customer_id COLLATE utf8mb4_bin AS customer_id, SUM(h.amount) AS n
                      FROM order_holds h JOIN orders o ON o.id = h.order_id
                     WHERE h.kind = 'promotion' AND o.status IN (${marks(counted.length)})
                     GROUP BY h.resource_id, o.customer_id COLLATE utf8mb4_bin) x
           ON CAST(x.resource_id AS UNSIGNED) = c.promotion_id AND x.customer_id = c.customer_id
        WHERE c.units <> COALESCE(x.n, 0)
        ORDER BY c.promotion_id, c.customer_id`,
      counted,
    );
    return {
      kind: 'promotion',
      rule: 'promotion units not conserved (sold, and each customer’s units, should equal what pending and paid orders hold)',
      columns: ['promotionId', 'customerId', 'counted', 'onOrders', 'difference'],
      mismatches: [
        ...quota.map((r) => {
          const onOrders = Number(r.held ?? 0) + Number(r.kept ?? 0);
          return {
            promotionId: String(r.id),
            customerId: '(all)',
            counted: r.sold,
            onOrders,
            difference: r.sold - onOrders,
          };
        }),
        ...perCustomer.map((r) => ({
          promotionId: String(r.promotion_id),
          customerId: r.customer_id,
          counted: r.units,
          onOrders: Number(r.n ?? 0),
          difference: r.units - Number(r.n ?? 0),
        })),
      ],
    };
  },
};
