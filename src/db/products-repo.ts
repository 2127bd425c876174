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

/** `UPDATE … SET col = col + CASE id WHEN … END`: one statement, rows locked in ascending id order. */
export function stockDeltaSql(deltas: ReadonlyMap<string, number>, sign: '+' | '-') {
  const ids = [...deltas.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  const whens = ids.map(() => 'WHEN ? THEN ?').join(' ');
  const bindings = ids.flatMap((id) => [id, deltas.get(id)!]);
  return { ids, caseSql: `CASE id ${whens} END`, caseBindings: bindings, sign };
}

/**
 * Takes stock for every product or none, and reads the products, in one round trip: the rows locked and read
 * (in id order) as they stood, then a conditional update (`stock >= qty`). When `taken` is false some product
 * is short or missing, and the caller must roll back (rows that did match were decremented).
 */
export async function takeStock(
  trx: Knex.Transaction,
  quantities: ReadonlyMap<string, number>,
  now: Date,
): Promise<{ taken: boolean; before: Map<string, Product> }> {
  const { ids, caseSql, caseBindings } = stockDeltaSql(quantities, '-');
  const marks = ids.map(() => '?').join(',');
  const [[rows, update]] = (await trx.raw(
    `SELECT * FROM products WHERE id IN (${marks}) ORDER BY id FOR UPDATE;
     UPDATE products SET stock = stock - ${caseSql}, updated_at = ? WHERE id IN (${marks}) AND stock >= ${caseSql}`,
    [...ids, ...caseBindings, now, ...ids, ...caseBindings],
  )) as [[ProductRow[], unknown]];
  return {
    taken: affectedRows(update) === ids.length,
    before: new Map(rows.map((r) => [String(r.id), toProduct(r)])),
  };
}

/** Gives stock back (never conditional: the caller's compare-and-set already made this the only release). */
export async function returnStock(
  trx: Knex.Transaction,
  quantities: ReadonlyMap<string, number>,
  now: Date,
): Promise<void> {
  if (quantities.size === 0) return;
  await returnStockStatement(trx, quantities, now);
}

/** The statement of {@link returnStock}, to send together with others. */
export function returnStockStatement(
  trx: Knex.Transaction,
  quantities: ReadonlyMap<string, number>,
  now: Date,
): Knex.Raw {
  const { ids, caseSql, caseBindings } = stockDeltaSql(quantities, '+');
  return trx.raw(
    `UPDATE products SET stock = stock + ${caseSql}, updated_at = ? WHERE id IN (${ids.map(() => '?').join(',')})`,
    [...caseBindings, now, ...ids],
  );
}

export function affectedRows(rawResult: unknown): number {
  const header: unknown = Array.isArray(rawResult) ? rawResult[0] : rawResult;
  return Number((header as { affectedRows?: number }).affectedRows ?? 0);
}
