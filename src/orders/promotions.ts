import { badField, notFound } from '../errors';
import { findPromotion, insertPromotion, type NewPromotion, type Promotion } from '../db/promotions-repo';
import type { UseCaseDeps } from './use-case-deps';

/** A promotion as the API shows it (contract §7). */
export const toPromotionJson = (p: Promotion) => ({
  id: p.id,
  productId: p.productId,
  priceCents: p.priceCents,
  quota: p.quota,
  perCustomerLimit: p.perCustomerLimit,
  startsAt: p.startsAt.toISOString(),
  endsAt: p.endsAt.toISOString(),
  sold: p.sold,
});

/** Creates a flash sale on a product (404 for an unknown product; 400 for one that would have ended already). */
export async function createPromotion(ctx: UseCaseDeps, input: NewPromotion): Promise<Promotion> {
  const now = ctx.now();
  if (input.endsAt.getTime() <= now.getTime()) throw badField('endsAt', 'must be in the future');
  try {
    return await insertPromotion(ctx.db, input, now);
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_NO_REFERENCED_ROW_2') throw notFound('product', input.productId);
    throw err;
  }
}

export async function readPromotion(ctx: UseCaseDeps, id: string): Promise<Promotion> {
  const promotion = await findPromotion(ctx.db, id);
  if (!promotion) throw notFound('promotion', id);
  return promotion;
}
