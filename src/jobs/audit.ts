import type { Knex } from 'knex';
import { SOLD_STATUSES } from '../domain/order-lifecycle';

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
  const sold = SOLD_STATUSES.map(() => '?').join(',');
  const [rows] = (await db.raw(
    `SELECT p.id, p.sku, p.stock, p.stock_received,
            COALESCE(SUM(CASE WHEN o.status = 'PENDING_PAYMENT' THEN i.quantity END), 0) AS held,
            COALESCE(SUM(CASE WHEN o.status IN (${sold}) THEN i.quantity END), 0) AS sold
       FROM products p
       LEFT JOIN order_items i ON i.product_id = p.id
       LEFT JOIN orders o ON o.id = i.order_id
      GROUP BY p.id, p.sku, p.stock, p.stock_received
      ORDER BY p.id`,
    [...SOLD_STATUSES],
  )) as [unknown[]];
  return (
    rows as {
      id: number;
      sku: string;
      stock: number;
      stock_received: number;
      held: string | number;
      sold: string | number;
    }[]
  )
    .map((r) => {
      const held = Number(r.held);
      const soldQty = Number(r.sold);
      return {
        productId: String(r.id),
        sku: r.sku,
        stock: r.stock,
        held,
        sold: soldQty,
        received: r.stock_received,
        difference: r.stock + held + soldQty - r.stock_received,
      };
    })
    .filter((r) => r.difference !== 0);
}
