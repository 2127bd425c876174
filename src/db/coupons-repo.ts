import type { Knex } from 'knex';

export const COUPON_STATUSES = ['AVAILABLE', 'HELD', 'USED'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

export interface NewCoupon {
  customerId: string;
  discountCents: number;
  /** The least the items must come to (at the prices they sell at) for the coupon to apply. */
  minTotalCents: number;
  expiresAt: Date;
}

export interface Coupon extends NewCoupon {
  id: string;
  status: CouponStatus;
  /** The order holding (HELD) or having used (USED) it. */
  orderId: string | null;
}

interface CouponRow {
  id: number | string;
  customer_id: string;
  discount_cents: number | string;
  min_total_cents: number | string;
  expires_at: Date;
  status: CouponStatus;
  order_id: number | string | null;
}

const toCoupon = (r: CouponRow): Coupon => ({
  id: String(r.id),
  customerId: r.customer_id,
  discountCents: Number(r.discount_cents),
  minTotalCents: Number(r.min_total_cents),
  expiresAt: r.expires_at,
  status: r.status,
  orderId: r.order_id === null ? null : String(r.order_id),
});

export async function insertCoupon(db: Knex, c: NewCoupon, now: Date): Promise<Coupon> {
  const [id] = await db('coupons').insert({
    customer_id: c.customerId,
    discount_cents: c.discountCents,
    min_total_cents: c.minTotalCents,
    expires_at: c.expiresAt,
    status: 'AVAILABLE',
    order_id: null,
    created_at: now,
    updated_at: now,
  });
  return { id: String(id), ...c, status: 'AVAILABLE', orderId: null };
}

export async function findCoupon(db: Knex, id: string): Promise<Coupon | undefined> {
  const row = (await db('coupons').where({ id }).first()) as CouponRow | undefined;
  return row ? toCoupon(row) : undefined;
}

/** A customer's coupons, oldest first. */
export async function listCustomerCoupons(db: Knex, customerId: string): Promise<Coupon[]> {
  const rows = (await db('coupons').where({ customer_id: customerId }).orderBy('id')) as CouponRow[];
  return rows.map(toCoupon);
}

/** Locks a coupon and reads it, in a create transaction. */
export function lockCouponQuery(trx: Knex.Transaction, id: string): Knex.QueryBuilder {
  return trx('coupons').select('*').where({ id }).forUpdate();
}

/** The coupon in the rows of {@link lockCouponQuery}, if it exists. */
export const toLockedCoupon = (rows: unknown): Coupon | undefined => {
  const [row] = rows as CouponRow[];
  return row ? toCoupon(row) : undefined;
};
