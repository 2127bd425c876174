import type { Order, OrderEventRecord } from '../db/orders-repo';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The order as the API shows it (contract §3): ids as strings, times ISO-8601 UTC with milliseconds. */
export function toOrderJson(o: Order) {
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
    expiresAt: iso(o.expiresAt),
    createdAt: iso(o.createdAt),
    paidAt: iso(o.paidAt),
    closedAt: iso(o.closedAt),
    shippedAt: iso(o.shippedAt),
    completedAt: iso(o.completedAt),
  };
}

export function toEventJson(e: OrderEventRecord) {
  return { event: e.event, from: e.from, to: e.to, source: e.source, at: iso(e.at) };
}
