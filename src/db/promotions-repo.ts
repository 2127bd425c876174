import type { Knex } from 'knex';
import { SOLD_STATUSES } from '../domain/order-lifecycle';

export interface NewPromotion {
  productId: string;
  /** The product's price while the promotion is active. */
  priceCents: number;
  /** Units it sells at most, all customers together. */
  quota: number;
  /** Units one customer may hold or have bought at most. */
  perCustomerLimit: number;
  startsAt: Date;
  /** The first instant it is no longer active. */
  endsAt: Date;
}

export interface Promotion extends NewPromotion {
  id: string;
  /** Units held by pending orders and kept by paid ones. */
  sold: number;
}

/** A promotion active at create time, with the units the ordering customer already has in it. */
export interface ActivePromotion extends Promotion {
  customerUnits: number;
}

interface PromotionRow {
  id: number | string;
  product_id: number | string;
  price_cents: number | string;
  quota: number;
  per_customer_limit: number;
  starts_at: Date;
  ends_at: Date;
  sold: number;
}

const toPromotion = (r: PromotionRow): Promotion => ({
  id: String(r.id),
  productId: String(r.product_id),
  priceCents: Number(r.price_cents),
  quota: r.quota,
  perCustomerLimit: r.per_customer_limit,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  sold: r.sold,
});

/** Inserts a promotion; an unknown product surfaces as the driver's ER_NO_REFERENCED_ROW_2. */
export async function insertPromotion(db: Knex, p: NewPromotion, now: Date): Promise<Promotion> {
  const [id] = await db('promotions').insert({
    product_id: p.productId,
    price_cents: p.priceCents,
    quota: p.quota,
    per_customer_limit: p.perCustomerLimit,
    starts_at: p.startsAt,
    ends_at: p.endsAt,
    sold: 0,
    created_at: now,
    updated_at: now,
  });
  return { id: String(id), ...p, sold: 0 };
}

export async function findPromotion(db: Knex, id: string): Promise<Promotion | undefined> {
  const row = (await db('promotions').where({ id }).first()) as PromotionRow | undefined;
  return row ? toPromotion(row) : undefined;
}

/**
 * Locks and reads the promotions active at `now` on these products (after the products, as every transaction
 * does). Locked, they also hold back every other create or revive of the same promotions, so the customer's units
 * read next ({@link customerUnitsQuery}) cannot grow before this transaction ends: the per-customer limit needs no
 * counter of its own.
 */
export function lockActivePromotionsQuery(
  trx: Knex.Transaction,
  productIds: readonly string[],
  now: Date,
): Knex.QueryBuilder {
  return trx('promotions')
    .select('*')
    .whereIn('product_id', productIds as string[])
    .andWhere('starts_at', '<=', now)
    .andWhere('ends_at', '>', now)
    .orderBy('id')
    .forUpdate();
}

/** The promotions in the rows of {@link lockActivePromotionsQuery}. */
export const toPromotions = (rows: unknown): Promotion[] => (rows as PromotionRow[]).map(toPromotion);

const COUNTED = `'PENDING_PAYMENT', ${SOLD_STATUSES.map((st) => `'${st}'`).join(', ')}`;

/**
 * SQL for the units of promotion `?` (its id as a string) that customer `?` holds or bought: what their pending
 * and paid orders hold (an index range of order_holds).
 */
export const CUSTOMER_UNITS_SQL = `(SELECT COALESCE(SUM(h.amount), 0) FROM order_holds h JOIN orders o ON o.id = h.order_id
   WHERE h.kind = 'promotion' AND h.resource_id = ? AND h.customer_id = ? AND o.status IN (${COUNTED}))`;

/** The units the customer holds or bought in each promotion active on these products, for the per-customer limit. */
export function customerUnitsQuery(
  trx: Knex.Transaction,
  productIds: readonly string[],
  customerId: string,
  now: Date,
): Knex.Raw {
  return trx.raw(
    `SELECT p.id AS promotion_id, SUM(h.amount) AS units
       FROM promotions p
       JOIN order_holds h ON h.kind = 'promotion' AND h.resource_id = CAST(p.id AS CHAR) COLLATE utf8mb4_bin
                         AND h.customer_id = ?
       JOIN orders o ON o.id = h.order_id AND o.status IN (${COUNTED})
      WHERE p.product_id IN (${productIds.map(() => '?').join(',')}) AND p.starts_at <= ? AND p.ends_at > ?
      GROUP BY p.id`,
    [customerId, ...productIds, now, now],
  );
}

/** Active promotions with the customer's units in each, from the rows of the two queries above. */
export function toActivePromotions(promotions: unknown, units: unknown): ActivePromotion[] {
  const unitsOf = new Map(
    (units as { promotion_id: number | string; units: number | string }[]).map((r) => [
      String(r.promotion_id),
      Number(r.units),
    ]),
  );
  return toPromotions(promotions).map((p) => ({ ...p, customerUnits: unitsOf.get(p.id) ?? 0 }));
}
