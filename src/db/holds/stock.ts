import type { Knex } from 'knex';
import { SOLD_STATUSES } from '../../domain/order-lifecycle';
import { AppError } from '../../errors';
import { HoldConflictError, HoldsUnavailableError, marks, mover, type Change, type HoldStore } from './hold-store';

export interface StockMismatch {
  productId: string;
  sku: string;
  stock: number;
  held: number;
  sold: number;
  received: number;
  /** stock + held + sold - received: positive means stock appeared from nowhere. */
  difference: number;
}

/** Products whose stock + quantities held by pending orders + quantities sold differ from what was received. */
export async function auditStock(db: Knex): Promise<StockMismatch[]> {
  const [rows] = (await db.raw(
    `SELECT p.id, p.sku, p.stock, p.stock_received,
            COALESCE(SUM(CASE WHEN o.status = 'PENDING_PAYMENT' THEN i.quantity END), 0) AS held,
            COALESCE(SUM(CASE WHEN o.status IN (${marks(SOLD_STATUSES.length)}) THEN i.quantity END), 0) AS sold
       FROM products p
       LEFT JOIN order_items i ON i.product_id = p.id
       LEFT JOIN orders o ON o.id = i.order_id
      GROUP BY p.id, p.sku, p.stock, p.stock_received
      ORDER BY p.id`,
    [...SOLD_STATUSES],
  )) as [{ id: number; sku: string; stock: number; stock_received: number; held: string; sold: string }[]];
  return rows
    .map((r) => {
      const held = Number(r.held);
      const sold = Number(r.sold);
      return {
        productId: String(r.id),
        sku: r.sku,
        stock: r.stock,
        held,
        sold,
        received: r.stock_received,
        difference: r.stock + held + sold - r.stock_received,
      };
    })
    .filter((r) => r.difference !== 0);
}

const short = () =>
  new AppError(409, 'insufficient-stock', 'Insufficient stock', 'not enough stock for the order; nothing was taken');

const moveStock = mover('products', 'id');
const TAKE: Change = { moves: [{ column: 'stock', sign: '-' }], guard: (a) => `stock >= ${a}` };
const GIVE_BACK: Change = { moves: [{ column: 'stock', sign: '+' }] };

/** Stock: the order's items are its holds (`order_items`), taken from and given back to `products.stock`. */
export const stockHolds: HoldStore = {
  kind: 'stock',

  heldQuery: (trx, orderIds) =>
    trx('order_items')
      .select('order_id', trx.raw("'' AS customer_id"), 'product_id AS resource_id', 'quantity AS amount')
      .whereIn('order_id', orderIds as string[]),

  // The create transaction has locked and read the products already, so this only fails if that read was wrong.
  take: ({ trx, now }, claims) => moveStock(trx, claims, now, TAKE, short),

  giveBack: (trx, holds, now) =>
    moveStock(trx, holds, now, GIVE_BACK, () => new HoldConflictError('stock', 'a product that no longer exists')),

  keep: () => [],

  retake: (trx, holds, now) => moveStock(trx, holds, now, TAKE, () => new HoldsUnavailableError('stock')),

  audit: async (db) => ({
    kind: 'stock',
    rule: 'stock not conserved (stock + held + sold should equal received)',
    columns: ['productId', 'sku', 'stock', 'held', 'sold', 'received', 'difference'],
    mismatches: (await auditStock(db)) as unknown as Record<string, unknown>[],
  }),
};
