import type { Knex } from 'knex';
import { lockCouponQuery, toLockedCoupon, type Coupon } from './coupons-repo';
import { lockPointsQuery, toLockedBalance } from './points-repo';
import { lockProductsQuery, toProducts, type Product } from './products-repo';
import {
  customerUnitsQuery,
  lockActivePromotionsQuery,
  toActivePromotions,
  type ActivePromotion,
} from './promotions-repo';
import { runTogetherRaw } from './run-together';

/** What a create transaction reads (and locks) before it decides: everything the new order would hold. */
export interface CreateReads {
  /** The products that exist among those ordered, by id. */
  products: Map<string, Product>;
  /** Promotions active now on those products, with the customer's units in each. */
  promotions: ActivePromotion[];
  /** The coupon asked for; undefined when none was asked for or it does not exist. */
  coupon?: Coupon;
  /** The customer's points balance (0 when no points were asked for). */
  pointsBalance: number;
}

/** What to read for a new order. */
export interface CreateReadRequest {
  customerId: string;
  productIds: readonly string[];
  couponId?: string;
  pointsToRedeem: number;
  now: Date;
}

/**
 * Locks and reads, in one round trip, the rows the new order would take from: products, their active promotions
 * (and the customer's units in them), the coupon, the points account, in the lock order of every transaction
 * (domain/holds). Locked, they cannot change before the takes that follow, so a refusal is decided from exact
 * figures.
 */
export async function readForCreate(trx: Knex.Transaction, req: CreateReadRequest): Promise<CreateReads> {
  const [products, promotions, units, ...rest] = await runTogetherRaw(trx, [
    lockProductsQuery(trx, req.productIds),
    lockActivePromotionsQuery(trx, req.productIds, req.now),
    customerUnitsQuery(trx, req.productIds, req.customerId, req.now),
    ...(req.couponId !== undefined ? [lockCouponQuery(trx, req.couponId)] : []),
    ...(req.pointsToRedeem > 0 ? [lockPointsQuery(trx, req.customerId)] : []),
  ]);
  return {
    products: toProducts(products),
    promotions: toActivePromotions(promotions, units),
    coupon: req.couponId !== undefined ? toLockedCoupon(rest.shift()) : undefined,
    pointsBalance: req.pointsToRedeem > 0 ? toLockedBalance(rest.shift()) : 0,
  };
}
