import type { Knex } from 'knex';

export interface Product {
  id: string;
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  stock: number;
}

export interface NewProduct {
  sku: string;
  name: string;
  category: string;
  priceCents: number;
  stock: number;
}

interface ProductRow {
  id: number | string;
  sku: string;
  name: string;
  category: string;
  price_cents: number | string;
  stock: number;
}

const toProduct = (r: ProductRow): Product => ({
  id: String(r.id),
  sku: r.sku,
  name: r.name,
  category: r.category,
  priceCents: Number(r.price_cents),
  stock: r.stock,
});

/** Inserts a product; a duplicate sku surfaces as the driver's ER_DUP_ENTRY. */
export async function insertProduct(db: Knex, p: NewProduct, now: Date): Promise<Product> {
  const [id] = await db('products').insert({
    sku: p.sku,
    name: p.name,
    category: p.category,
    price_cents: p.priceCents,
    stock: p.stock,
    stock_received: p.stock,
    created_at: now,
    updated_at: now,
  });
  return { id: String(id), ...p };
}

export async function findProduct(db: Knex, id: string): Promise<Product | undefined> {
  const row = await db<ProductRow>('products').where({ id }).first();
  return row ? toProduct(row) : undefined;
}

/** Locks the products (ascending id) and reads them as they stand: the first read of a create transaction. */
export function lockProductsQuery(trx: Knex.Transaction, ids: readonly string[]): Knex.QueryBuilder {
  return trx('products')
    .select('*')
    .whereIn('id', ids as string[])
    .orderBy('id')
    .forUpdate();
}

/** The products in the rows of {@link lockProductsQuery}, by id. */
export function toProducts(rows: unknown): Map<string, Product> {
  return new Map((rows as ProductRow[]).map((r) => [String(r.id), toProduct(r)]));
}
