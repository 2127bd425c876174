import type { Knex } from 'knex';
import type { HoldClaim, HoldKind } from '../../domain/holds';
import { SOLD_STATUSES } from '../../domain/order-lifecycle';
import { marks } from './hold-store';

/** The holds of the given orders recorded in `order_holds` (every kind without a table of its own). */
export function orderHoldsQuery(trx: Knex.Transaction, orderIds: readonly string[]): Knex.QueryBuilder {
  return trx('order_holds')
    .select('order_id', 'customer_id', 'kind', 'resource_id', 'amount')
    .whereIn('order_id', orderIds as string[]);
}

/** The statement recording a new order's claims in `order_holds` (none when there are none). */
export function recordHolds(
  trx: Knex.Transaction,
  orderId: Knex.Raw,
  customerId: string,
  claims: readonly HoldClaim[],
): Knex.QueryBuilder[] {
  if (claims.length === 0) return [];
  return [
    trx('order_holds').insert(
      claims.map((c) => ({
        order_id: orderId,
        kind: c.kind,
        resource_id: c.resourceId,
        customer_id: customerId,
        amount: c.amount,
      })),
    ),
  ];
}

/**
 * Per resource of a kind: what pending orders hold (`held`, and by how many orders, the lowest of them in
 * `holder`) and what sold orders kept (`kept`, `keepers`, `keeper`). A subquery for the kinds' audits.
 */
export function holdTotalsSql(kind: HoldKind): { sql: string; bindings: string[] } {
  const sold = marks(SOLD_STATUSES.length);
  return {
    sql: `SELECT h.resource_id,
                 SUM(CASE WHEN o.status = 'PENDING_PAYMENT' THEN h.amount ELSE 0 END) AS held,
                 SUM(CASE WHEN o.status = 'PENDING_PAYMENT' THEN 1 ELSE 0 END) AS holders,
                 MIN(CASE WHEN o.status = 'PENDING_PAYMENT' THEN o.id END) AS holder,
                 SUM(CASE WHEN o.status IN (${sold}) THEN h.amount ELSE 0 END) AS kept,
                 SUM(CASE WHEN o.status IN (${sold}) THEN 1 ELSE 0 END) AS keepers,
                 MIN(CASE WHEN o.status IN (${sold}) THEN o.id END) AS keeper
            FROM order_holds h JOIN orders o ON o.id = h.order_id
           WHERE h.kind = ?
           GROUP BY h.resource_id`,
    bindings: [...SOLD_STATUSES, ...SOLD_STATUSES, ...SOLD_STATUSES, kind],
  };
}

/** The rows of a raw SELECT (mysql2 answers `[rows, fields]`). */
export async function selectRows<T>(db: Knex, sql: string, bindings: readonly unknown[]): Promise<T[]> {
  const [rows] = (await db.raw(sql, bindings as Knex.RawBinding[])) as [T[]];
  return rows;
}
