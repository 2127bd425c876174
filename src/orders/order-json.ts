import type { Order, OrderEventRecord } from '../db/orders-repo';
import type { OrderEventJson, OrderJson } from '../http/api-schemas';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The order as the API shows it (docs/api.md): ids as strings, times ISO-8601 UTC with milliseconds. */
export function toOrderJson(o: Order): OrderJson {
  return {
    id: o.id,
    customerId: o.customerId,
    status: o.status,
    category: o.category,
    items: o.items,
    totalCents: o.totalCents,
    couponId: o.couponId,
    pointsRedeemed: o.pointsRedeemed,
    discountCents: o.discountCents,
    paymentRef: o.paymentRef,
    expiresAt: o.expiresAt.toISOString(),
    createdAt: o.createdAt.toISOString(),
    paidAt: iso(o.paidAt),
    closedAt: iso(o.closedAt),
    shippedAt: iso(o.shippedAt),
    completedAt: iso(o.completedAt),
    completeAt: iso(o.completeAt),
    region: o.region,
    customerTier: o.customerTier,
  };
}

export function toEventJson(e: OrderEventRecord): OrderEventJson {
  return { event: e.event, from: e.from, to: e.to, source: e.source, at: e.at.toISOString() };
}
