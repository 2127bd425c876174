import type { Knex } from 'knex';
import type { CategoryCounts } from '../domain/timeout-stats';

// closed_at - expires_at in ms. TIMESTAMPDIFF(MICROSECOND, …) is exact for DATETIME(3) on MySQL 8 and MariaDB.
const LATENESS_MS = 'TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000';

/**
 * Orders created at or after `since` (and at or before `until`), counted per category by what became of them, with the
 * largest close lateness of the CLOSED ones. One pass over the orders of the period (index orders_created_at).
 */
export async function countOrdersByCategory(db: Knex, since: Date, until: Date): Promise<CategoryCounts[]> {
  const rows: {
    category: string;
    created: number | string;
    paid: number | string | null;
    closed: number | string | null;
    cancelled: number | string | null;
    pending: number | string | null;
    max_lateness_ms: number | string | null;
  }[] = await db('orders')
    .select('category')
    .count({ created: '*' })
    .select(
      db.raw('SUM(CASE WHEN paid_at IS NOT NULL THEN 1 ELSE 0 END) AS paid'),
      db.raw("SUM(CASE WHEN status = 'CLOSED' THEN 1 ELSE 0 END) AS closed"),
      db.raw("SUM(CASE WHEN status = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled"),
      db.raw("SUM(CASE WHEN status = 'PENDING_PAYMENT' THEN 1 ELSE 0 END) AS pending"),
      db.raw(`MAX(CASE WHEN status = 'CLOSED' THEN ${LATENESS_MS} END) AS max_lateness_ms`),
    )
    .where('created_at', '>=', since)
    .andWhere('created_at', '<=', until)
    .groupBy('category');
  return rows.map((r) => ({
    category: r.category,
    created: Number(r.created),
    paid: Number(r.paid ?? 0),
    closedByTimeout: Number(r.closed ?? 0),
    cancelled: Number(r.cancelled ?? 0),
    pending: Number(r.pending ?? 0),
    maxLatenessMs: r.max_lateness_ms === null ? null : Number(r.max_lateness_ms),
  }));
}

/**
 * Close lateness (ms) of the most recently created CLOSED orders of the period: at most `perCategory` per category
 * (ROW_NUMBER over the category, which MySQL 8 and MariaDB 10.2+ both have), so memory stays bounded however many
 * orders the period holds.
 */
export async function sampleLatenessByCategory(
  db: Knex,
  since: Date,
  until: Date,
  perCategory: number,
): Promise<Map<string, number[]>> {
  const [rows] = (await db.raw(
    `SELECT category, lateness_ms FROM (
       SELECT category, ${LATENESS_MS} AS lateness_ms, ROW_NUMBER() OVER (PARTITION BY category ORDER BY created_at DESC, id DESC) AS rn
       FROM orders
       WHERE created_at >= ? AND created_at <= ? AND status = 'CLOSED'
     ) sampled
     WHERE rn <= ?`,
    [since, until, perCategory],
  )) as [{ category: string; lateness_ms: number | string }[]];
  const out = new Map<string, number[]>();
  for (const r of rows) {
    let values = out.get(r.category);
    if (!values) out.set(r.category, (values = []));
    values.push(Number(r.lateness_ms));
  }
  return out;
}

/** Close lateness (ms) of the most recently created CLOSED orders of the period, all categories, at most `limit`. */
export async function sampleLateness(db: Knex, since: Date, until: Date, limit: number): Promise<number[]> {
  const rows = (await db('orders')
    .select(db.raw(`${LATENESS_MS} AS lateness_ms`))
    .where('created_at', '>=', since)
    .andWhere('created_at', '<=', until)
    .andWhere({ status: 'CLOSED' })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit)) as { lateness_ms: number | string }[];
  return rows.map((r) => Number(r.lateness_ms));
}
