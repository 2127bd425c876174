import { AppError, notFound } from '../errors';
import { findProduct, insertProduct, type NewProduct, type Product } from '../db/products-repo';
import type { UseCaseDeps } from './use-case-deps';

export async function createProduct(ctx: UseCaseDeps, input: NewProduct): Promise<Product> {
  try {
    return await insertProduct(ctx.db, input, ctx.now());
  } catch (err) {
    if ((err as { code?: string }).code === 'ER_DUP_ENTRY') {
      throw new AppError(409, 'duplicate-sku', 'Duplicate sku', `a product with sku "${input.sku}" already exists`);
    }
    throw err;
  }
}

export async function readProduct(ctx: UseCaseDeps, id: string): Promise<Product> {
  const product = await findProduct(ctx.db, id);
  if (!product) throw notFound('product', id);
  return product;
}
