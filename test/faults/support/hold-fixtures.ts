import type { Knex } from 'knex';
import { call } from './traffic';

/**
 * What the fault scenarios' orders hold besides stock: for each of `n` orders a customer of its own with a
 * coupon and points, and one promotion on the product for all of them. Written straight into the database in a
 * few statements, so thousands of fixtures take a second, not a minute of HTTP before the race.
 */
export interface HoldFixtures {
  promotionId: string;
  customers: string[];
  couponIds: string[];
  /** The request fields that make order i hold its coupon, its points and (through the product) promotion units. */
  extra: (i: number) => Record<string, unknown>;
}

export const SALE_PRICE = 800;
export const COUPON_OFF = 100;
export const POINTS_GRANTED = 1000;
export const POINTS_REDEEMED = 200;
/** An order's total: one unit at the promotion price, less the coupon and the points. */
export const ORDER_TOTAL = SALE_PRICE - COUPON_OFF - POINTS_REDEEMED;

/** Inserts `rows` in chunks of 1,000. */
async function insertAll(db: Knex, table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) await db(table).insert(rows.slice(i, i + 1000));
}

export async function seedHoldFixtures(
  baseUrl: string,
  db: Knex,
  productId: string,
  n: number,
  tag = 'race',
): Promise<HoldFixtures> {
  const promotion = await call(baseUrl, 'POST', '/promotions', {
    productId,
    priceCents: SALE_PRICE,
    quota: n * 5,
    perCustomerLimit: 5,
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  if (promotion.status !== 201) throw new Error(`POST /promotions answered ${promotion.status}`);
  const now = new Date();
  const customers = Array.from({ length: n }, (_, i) => `${tag}-c-${i}`);
  await insertAll(
    db,
    'coupons',
    customers.map((c) => ({
      customer_id: c,
      discount_cents: COUPON_OFF,
      min_total_cents: 0,
      expires_at: new Date(now.getTime() + 3_600_000),
      status: 'AVAILABLE',
      created_at: now,
      updated_at: now,
    })),
  );
  const couponOf = new Map<string, string>();
  for (let i = 0; i < n; i += 1000) {
    const rows: { id: number; customer_id: string }[] = await db('coupons')
      .select('id', 'customer_id')
      .whereIn('customer_id', customers.slice(i, i + 1000));
    for (const r of rows) couponOf.set(r.customer_id, String(r.id));
  }
  const couponIds = customers.map((c) => couponOf.get(c)!);
  await insertAll(
    db,
    'points_accounts',
    customers.map((c) => ({ customer_id: c, balance: POINTS_GRANTED, held: 0, created_at: now, updated_at: now })),
  );
  await insertAll(
    db,
    'points_ledger',
    customers.map((c) => ({ customer_id: c, delta: POINTS_GRANTED, reason: tag, created_at: now })),
  );
  return {
    promotionId: String(promotion.body.id),
    customers,
    couponIds,
    extra: (i) => ({ customerId: customers[i], couponId: couponIds[i], pointsToRedeem: POINTS_REDEEMED }),
  };
}
