import type { Knex } from 'knex';

export interface StatementResult {
  insertId?: number;
  affectedRows?: number;
}

/**
 * Sends several statements in one round trip and returns each one's result. The connection is opened with
 * multiple statements allowed for this; every statement still comes from the query builder, parameterised.
 */
export async function runTogether(
  trx: Knex.Transaction,
  statements: ReadonlyArray<Knex.QueryBuilder | Knex.Raw>,
): Promise<StatementResult[]> {
  return (await runTogetherRaw(trx, statements)) as StatementResult[];
}

/** As {@link runTogether}, for batches with SELECTs: each element is a header or an array of rows. */
export async function runTogetherRaw(
  trx: Knex.Transaction,
  statements: ReadonlyArray<Knex.QueryBuilder | Knex.Raw>,
): Promise<unknown[]> {
  const natives = statements.map((s) => s.toSQL().toNative());
  const [results] = (await trx.raw(
    natives.map((n) => n.sql).join(';\n'),
    natives.flatMap((n) => n.bindings) as Knex.RawBinding[],
  )) as [unknown];
  return statements.length === 1 ? [results] : (results as unknown[]);
}

/** Affected rows of one statement's result (a header, or `[header, fields]`). */
export function affectedRows(rawResult: unknown): number {
  const header: unknown = Array.isArray(rawResult) ? rawResult[0] : rawResult;
  return Number((header as { affectedRows?: number }).affectedRows ?? 0);
}
