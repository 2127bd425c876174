import type { Knex } from 'knex';

/** A table whose old rows are deleted once nobody needs them any more. */
export interface RetentionRule {
  /** Table to purge. */
  table: string;
  /** DATETIME column that says when a row stopped being needed; rows where it is NULL are kept. */
  column: string;
  /** How long a row is kept after that moment (ms). */
  retainMs: number;
}

/**
 * Deletes up to `limit` rows of `rule.table` older than its retention (any of them: which ones does not matter,
 * all will go); returns how many went. Small batches keep each DELETE's locks short next to the hot paths that
 * insert into the same tables.
 */
export async function purgeExpired(db: Knex, rule: RetentionRule, now: Date, limit: number): Promise<number> {
  const before = new Date(now.getTime() - rule.retainMs);
  return db(rule.table).where(rule.column, '<', before).limit(limit).del();
}
