import { badField, notFound } from '../errors';
import { findCoupon, insertCoupon, listCustomerCoupons, type Coupon, type NewCoupon } from '../db/coupons-repo';
import type { UseCaseDeps } from './use-case-deps';

/** A coupon as the API shows it (contract §7). */
export const toCouponJson = (c: Coupon) => ({
  id: c.id,
  customerId: c.customerId,
  discountCents: c.discountCents,
  minTotalCents: c.minTotalCents,
  expiresAt: c.expiresAt.toISOString(),
  status: c.status,
  orderId: c.orderId,
});

/** Issues a coupon to a customer; one that would be expired already is refused (400). */
export async function issueCoupon(ctx: UseCaseDeps, input: NewCoupon): Promise<Coupon> {
  const now = ctx.now();
  if (input.expiresAt.getTime() <= now.getTime()) throw badField('expiresAt', 'must be in the future');
  return insertCoupon(ctx.db, input, now);
}

export async function readCoupon(ctx: UseCaseDeps, id: string): Promise<Coupon> {
  const coupon = await findCoupon(ctx.db, id);
  if (!coupon) throw notFound('coupon', id);
  return coupon;
}

export async function readCustomerCoupons(ctx: UseCaseDeps, customerId: string): Promise<Coupon[]> {
  return listCustomerCoupons(ctx.db, customerId);
}
