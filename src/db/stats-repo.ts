import type { Knex } from 'knex';
import type { GroupCounts, StatsDimension } from '../domain/timeout-stats';

/** The orders column of each stats dimension. */
const GROUP_COLUMNS: Record<StatsDimension, string> = {
  category: 'category',
  region: 'region',
  tier: 'customer_tier',
};

// closed_at - expires_at in ms. TIMESTAMPDIFF(MICROSECOND, …) is exact for DATETIME(3) on MySQL 8 and MariaDB.
const LATENESS_MS = 'TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000';

/**
 * Orders created at or after `since` (and at or before `until`), counted per group of `by` by what became of them,
 * with the largest close lateness of the CLOSED ones. One pass over the orders of the period (index
 * orders_created_at).
 */
export async function countOrdersBy(db: Knex, by: StatsDimension, since: Date, until: Date): Promise<GroupCounts[]> {
  const rows: {
    grp: string;
    created: number | string;
    paid: number | string | null;
    closed: number | string | null;
    cancelled: number | string | null;
    pending: number | string | null;
    max_lateness_ms: number | string | null;
  }[] = await db('orders')
    .select(`${GROUP_COLUMNS[by]} AS grp`)
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
    .groupBy(GROUP_COLUMNS[by]);
  return rows.map((r) => ({
    group: r.grp,
    created: Number(r.created),
    paid: Number(r.paid ?? 0),
    closedByTimeout: Number(r.closed ?? 0),
    cancelled: Number(r.cancelled ?? 0),
    pending: Number(r.pending ?? 0),
    maxLatenessMs: r.max_lateness_ms === null ? null : Number(r.max_lateness_ms),
  }));
}

/**
 * Close lateness (ms) of the most recently created CLOSED orders of the period: at most `perGroup` per group of `by`
 * (ROW_NUMBER over the group, which MySQL 8 and MariaDB 10.2+ both have), so memory stays bounded however many
 * orders the period holds.
 */
export async function sampleLatenessBy(
  db: Knex,
  by: StatsDimension,
  since: Date,
  until: Date,
  perGroup: number,
): Promise<Map<string, number[]>> {
  const column = GROUP_COLUMNS[by];
  const [rows] = (await db.raw(
    `SELECT grp, lateness_ms FROM (
       SELECT ${column} AS grp, ${LATENESS_MS} AS lateness_ms, ROW_NUMBER() OVER (PARTITION BY ${column} ORDER BY created_at DESC, id DESC) AS rn
       FROM orders
       WHERE created_at >= ? AND created_at <= ? AND status = 'CLOSED'
     ) sampled
     WHERE rn <= ?`,
    [since, until, perGroup],
  )) as [{ grp: string; lateness_ms: number | string }[]];
  const out = new Map<string, number[]>();
  for (const r of rows) {
    let values = out.get(r.grp);
    if (!values) out.set(r.grp, (values = []));
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
