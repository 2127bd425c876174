import { randomBytes } from 'node:crypto';
import type { TestService } from './service';

/** A customer id of its own for one test, so counters start from zero. */
export const newCustomer = (prefix = 'cust') => `${prefix}-${randomBytes(4).toString('hex')}`;

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

async function created(svc: TestService, path: string, body: unknown): Promise<any> {
  const res = await svc.api('POST', path, body);
  if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A coupon through the API (expires in an hour unless told). */
export async function makeCoupon(
  svc: TestService,
  customerId: string,
  fields: Partial<{ discountCents: number; minTotalCents: number; expiresAt: string }> = {},
): Promise<{ id: string; status: string; orderId: string | null; [k: string]: unknown }> {
  return created(svc, '/coupons', {
    customerId,
    discountCents: 200,
    minTotalCents: 0,
    expiresAt: later(3_600_000),
    ...fields,
  });
}

/** A promotion through the API, active from a second ago for an hour unless told. */
export async function makePromotion(
  svc: TestService,
  productId: string,
  fields: Partial<{
    priceCents: number;
    quota: number;
    perCustomerLimit: number;
    startsAt: string;
    endsAt: string;
  }> = {},
): Promise<{ id: string; sold: number; [k: string]: unknown }> {
  return created(svc, '/promotions', {
    productId,
    priceCents: 500,
    quota: 100,
    perCustomerLimit: 10,
    startsAt: later(-1_000),
    endsAt: later(3_600_000),
    ...fields,
  });
}

/** Grants (or takes, when negative) points through the API. */
export async function grantPoints(svc: TestService, customerId: string, delta: number): Promise<void> {
  const res = await svc.api('POST', `/customers/${encodeURIComponent(customerId)}/points`, { delta, reason: 'test' });
  if (res.status !== 200) throw new Error(`points answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/** Where every kind of hold of one order stands, straight from the database. */
export async function holdsOf(
  svc: TestService,
  ids: { productId: string; promotionId?: string; couponId?: string; customerId: string },
): Promise<{
  stock: number;
  promotionSold?: number;
  customerUnits?: number;
  coupon?: string;
  points: { balance: number; held: number };
}> {
  const product = await svc.db('products').where({ id: ids.productId }).first('stock');
  const out: Awaited<ReturnType<typeof holdsOf>> = { stock: Number(product.stock), points: { balance: 0, held: 0 } };
  if (ids.promotionId) {
    out.promotionSold = Number((await svc.db('promotions').where({ id: ids.promotionId }).first('sold')).sold);
    // A customer's units are what their pending and paid orders hold (no counter of its own).
    const units = await svc
      .db('order_holds AS h')
      .join('orders AS o', 'o.id', 'h.order_id')
      .where({ 'h.kind': 'promotion', 'h.resource_id': ids.promotionId, 'h.customer_id': ids.customerId })
      .whereIn('o.status', ['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'COMPLETED'])
      .sum({ units: 'h.amount' })
      .first();
    out.customerUnits = Number(units?.units ?? 0);
  }
  if (ids.couponId) out.coupon = (await svc.db('coupons').where({ id: ids.couponId }).first('status')).status;
  const points = await svc.db('points_accounts').where({ customer_id: ids.customerId }).first('balance', 'held');
  out.points = { balance: Number(points?.balance ?? 0), held: Number(points?.held ?? 0) };
  return out;
}
