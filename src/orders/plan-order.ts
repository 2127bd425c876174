import type { CreateReads } from '../db/create-reads';
import type { OrderItem } from '../db/orders-repo';
import type { ActivePromotion } from '../db/promotions-repo';
import type { HoldClaim } from '../domain/holds';
import { windowCategory, type PaymentTimeouts } from '../domain/payment-window';
import { AppError } from '../errors';

/** A new order as asked for (the body of POST /orders). */
export interface OrderRequest {
  customerId: string;
  items: { productId: string; quantity: number }[];
  /** A coupon of the customer's to apply. */
  couponId?: string;
  /** Points to redeem at most, 1 point = 1 cent off; only as many as the order needs are taken. */
  pointsToRedeem?: number;
  /** Where the order is placed, for stats (default {@link DEFAULT_REGION}). */
  region?: string;
  /** The customer's tier, for stats (default {@link DEFAULT_TIER}). */
  customerTier?: string;
}

/** The region of an order that does not say. */
export const DEFAULT_REGION = 'unknown';
/** The customer tier of an order that does not say. */
export const DEFAULT_TIER = 'standard';

/** What a new order will be and hold, decided from what the create transaction read. */
export interface OrderPlan {
  items: OrderItem[];
  /** The items at the prices they sell at (promotion price where one is active). */
  itemsCents: number;
  couponId: string | null;
  pointsRedeemed: number;
  /** The coupon's discount (at most the items' total) plus the points redeemed. */
  discountCents: number;
  /** itemsCents - discountCents, never below 0. */
  totalCents: number;
  /** Everything the order takes, kind by kind. */
  claims: HoldClaim[];
  windowMs: number;
  /** The product category whose payment window the order got. */
  category: string;
}

/**
 * The promotion an item sells under: the cheapest active on its product (then the oldest). One promotion per
 * item, for its whole quantity: when its quota or limit does not cover the quantity, the order is refused.
 */
function promotionFor(productId: string, promotions: readonly ActivePromotion[]): ActivePromotion | undefined {
  return promotions
    .filter((p) => p.productId === productId)
    .sort((a, b) => a.priceCents - b.priceCents || Number(BigInt(a.id) - BigInt(b.id)))[0];
}

function checkStock(req: OrderRequest, reads: CreateReads): void {
  const missing = req.items.filter((i) => !reads.products.has(i.productId)).map((i) => i.productId);
  if (missing.length > 0) {
    throw new AppError(404, 'not-found', 'Unknown product', `product ${missing.join(', ')} does not exist`, {
      productIds: missing,
    });
  }
  const shortages = req.items
    .map((i) => ({ productId: i.productId, requested: i.quantity, available: reads.products.get(i.productId)!.stock }))
    .filter((s) => s.available < s.requested);
  if (shortages.length > 0) {
    throw new AppError(
      409,
      'insufficient-stock',
      'Insufficient stock',
      `not enough stock for product ${shortages.map((s) => s.productId).join(', ')}; nothing was taken`,
      { shortages },
    );
  }
}

function checkPromotion(p: ActivePromotion, quantity: number): void {
  const ids = { promotionId: p.id, productId: p.productId };
  if (p.sold + quantity > p.quota) {
    throw new AppError(
      409,
      'promotion-sold-out',
      'Promotion sold out',
      `promotion ${p.id} has ${p.quota - p.sold} of its ${p.quota} units left; ${quantity} asked; nothing was taken`,
      { ...ids, requested: quantity, available: p.quota - p.sold },
    );
  }
  if (p.customerUnits + quantity > p.perCustomerLimit) {
    throw new AppError(
      409,
      'promotion-limit',
      'Promotion limit reached',
      `promotion ${p.id} sells at most ${p.perCustomerLimit} units per customer; this customer has ${p.customerUnits}, ${quantity} more asked; nothing was taken`,
      { ...ids, requested: quantity, limit: p.perCustomerLimit, alreadyHeld: p.customerUnits },
    );
  }
}

/** Why a coupon cannot be used on this order, or undefined when it can. */
function couponRefusal(req: OrderRequest, reads: CreateReads, itemsCents: number, now: Date): string | undefined {
  const c = reads.coupon!;
  if (c.customerId !== req.customerId) return `coupon ${c.id} belongs to another customer`;
  if (c.status === 'HELD') return `coupon ${c.id} is held by pending order ${c.orderId}`;
  if (c.status === 'USED') return `coupon ${c.id} was used by order ${c.orderId}`;
  if (c.expiresAt.getTime() <= now.getTime()) return `coupon ${c.id} expired at ${c.expiresAt.toISOString()}`;
  if (itemsCents < c.minTotalCents)
    return `coupon ${c.id} needs items of at least ${c.minTotalCents} cents; these come to ${itemsCents}`;
  return undefined;
}

/**
 * Decides the order from what was read: prices (promotion price where one is active), coupon discount, points,
 * total, payment window, and the claims on every kind. Throws the refusal (404 or 409) when anything is missing,
 * short or not allowed; then nothing has been taken yet.
 */
export function planOrder(req: OrderRequest, reads: CreateReads, timeouts: PaymentTimeouts, now: Date): OrderPlan {
  if (req.couponId !== undefined && !reads.coupon) {
    throw new AppError(404, 'not-found', 'Unknown coupon', `coupon ${req.couponId} does not exist`);
  }
  checkStock(req, reads);
  const claims: HoldClaim[] = [];
  const items = req.items.map((i) => {
    const product = reads.products.get(i.productId)!;
    claims.push({ kind: 'stock', resourceId: i.productId, amount: i.quantity });
    const promotion = promotionFor(i.productId, reads.promotions);
    if (!promotion) return { ...i, unitPriceCents: product.priceCents };
    checkPromotion(promotion, i.quantity);
    claims.push({ kind: 'promotion', resourceId: promotion.id, amount: i.quantity });
    return { ...i, unitPriceCents: promotion.priceCents };
  });
  const itemsCents = items.reduce((sum, i) => sum + i.unitPriceCents * i.quantity, 0);

  let couponCents = 0;
  if (reads.coupon) {
    const refusal = couponRefusal(req, reads, itemsCents, now);
    if (refusal)
      throw new AppError(409, 'coupon-unavailable', 'Coupon unavailable', `${refusal}; nothing was taken`, {
        couponId: reads.coupon.id,
      });
    couponCents = Math.min(reads.coupon.discountCents, itemsCents);
    claims.push({ kind: 'coupon', resourceId: reads.coupon.id, amount: 1 });
  }

  const pointsRedeemed = Math.min(req.pointsToRedeem ?? 0, itemsCents - couponCents);
  if (pointsRedeemed > reads.pointsBalance) {
    throw new AppError(
      409,
      'points-insufficient',
      'Not enough points',
      `customer ${req.customerId} has ${reads.pointsBalance} points; this order would redeem ${pointsRedeemed}; nothing was taken`,
      { balance: reads.pointsBalance, requested: pointsRedeemed },
    );
  }
  if (pointsRedeemed > 0) claims.push({ kind: 'points', resourceId: req.customerId, amount: pointsRedeemed });

  const discountCents = couponCents + pointsRedeemed;
  const { windowMs, category } = windowCategory(
    req.items.map((i) => reads.products.get(i.productId)!.category),
    timeouts,
  );
  return {
    items,
    itemsCents,
    couponId: reads.coupon?.id ?? null,
    pointsRedeemed,
    discountCents,
    totalCents: itemsCents - discountCents,
    claims,
    windowMs,
    category,
  };
}
