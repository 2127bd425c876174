import type { Knex } from 'knex';

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
 * does), with the units `customerId` already holds or bought in each.
 */
export function lockActivePromotionsQuery(
  trx: Knex.Transaction,
  productIds: readonly string[],
  customerId: string,
  now: Date,
): Knex.QueryBuilder {
  return trx('promotions AS p')
    .leftJoin('promotion_customers AS c', (j) => {
      j.on('c.promotion_id', 'p.id').andOn('c.customer_id', trx.raw('?', [customerId]));
    })
    .select('p.*', trx.raw('COALESCE(c.units, 0) AS customer_units'))
    .whereIn('p.product_id', productIds as string[])
    .andWhere('p.starts_at', '<=', now)
    .andWhere('p.ends_at', '>', now)
    .orderBy('p.id')
    .forUpdate();
}

/** The promotions in the rows of {@link lockActivePromotionsQuery}. */
export const toActivePromotions = (rows: unknown): ActivePromotion[] =>
  (rows as (PromotionRow & { customer_units: number | string })[]).map((r) => ({
    ...toPromotion(r),
    customerUnits: Number(r.customer_units),
  }));
