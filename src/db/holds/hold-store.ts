import type { Knex } from 'knex';
import { sumByResource, type Hold, type HoldClaim, type HoldKind } from '../../domain/holds';

/**
 * A statement whose affected rows say whether it did what it should: every change to a hold is a compare-and-set,
 * and a set that did not match must fail the whole transaction.
 */
export interface CheckedStatement {
  statement: Knex.QueryBuilder | Knex.Raw;
  /** Rows it must affect; undefined: not checked (a statement that only makes sure a row exists). */
  expectRows?: number;
  /** The error to throw (after which the transaction rolls back) when it affected another number of rows. */
  onMismatch?: () => Error;
}

/** What a take at create time needs besides the claims. */
export interface TakeContext {
  trx: Knex.Transaction;
  /** The new order's id: SQL (the session variable set in the same round trip as its insert). */
  orderId: Knex.Raw;
  customerId: string;
  now: Date;
  /** The items' total at the prices they sell at, for a coupon's minimum. */
  itemsCents: number;
}

/** What one check of the audit found: rows that do not add up, with the columns that show why. */
export interface AuditFinding {
  /** The rule, as the CLI prints it above the rows, e.g. "stock + held + sold should equal received". */
  rule: string;
  columns: string[];
  mismatches: Record<string, unknown>[];
}

/** What one kind's audit found. */
export interface KindAudit extends AuditFinding {
  kind: HoldKind;
}

/**
 * One kind of thing an order holds, as SQL: how it is taken at create (conditional: all or nothing), given back on
 * close or cancel, kept on pay, taken back on revive, and audited. Give-backs, keeps and retakes get the holds of
 * any number of orders and answer with a few statements whatever that number, so batched closes stay batched.
 */
export interface HoldStore {
  kind: HoldKind;
  /**
   * Where this kind's holds are recorded, when not in `order_holds`: a query with columns `order_id`,
   * `customer_id`, `resource_id`, `amount` for the given orders (stock: the order's items).
   */
  heldQuery?: (trx: Knex.Transaction, orderIds: readonly string[]) => Knex.QueryBuilder;
  /** At create: takes the claims for the order being inserted; a mismatch is the refusal the client gets. */
  take: (ctx: TakeContext, claims: readonly HoldClaim[]) => CheckedStatement[];
  /** On close or cancel: gives back what these orders hold. */
  giveBack: (trx: Knex.Transaction, holds: readonly Hold[], now: Date) => CheckedStatement[];
  /** On pay: makes what these orders hold theirs for good (a coupon becomes USED, points are spent). */
  keep: (trx: Knex.Transaction, holds: readonly Hold[], now: Date) => CheckedStatement[];
  /** On revive: takes back, straight into the kept state, what these closed orders gave back, if still there. */
  retake: (trx: Knex.Transaction, holds: readonly Hold[], now: Date) => CheckedStatement[];
  /** Checks that the resource's counters match what pending orders hold and paid orders kept. */
  audit: (db: Knex) => Promise<KindAudit>;
}

/** A give-back or keep that did not match: the database does not say what the order holds. Never expected. */
export class HoldConflictError extends Error {
  constructor(
    readonly kind: HoldKind,
    what: string,
  ) {
    super(`${kind} holds do not match the database on ${what}; the transaction was rolled back`);
  }
}

/** A retake that could not take everything back (someone else has it now): the revive does not happen. */
export class HoldsUnavailableError extends Error {
  constructor(readonly kind: HoldKind) {
    super(`the order's ${kind} is no longer available`);
  }
}

/** Keys in a fixed order, as many `?` as keys, for `IN (…)`. */
export const marks = (n: number) => Array.from({ length: n }, () => '?').join(',');

/**
 * The amount of each row of a batched statement: `CASE WHEN <key> IN (…) THEN ? … END`, one WHEN per distinct
 * amount. Both databases look a key up in a constant IN list by binary search, so the statement costs
 * O(rows × amounts × log rows); a `CASE key WHEN ? THEN ?` per key would cost O(rows²), which dominated a batch
 * of 200 closes. Amounts repeat (one unit, one coupon, the same points), so there are few WHENs.
 */
export function amountCase(keySql: string, amounts: ReadonlyMap<string, number>): { sql: string; bindings: unknown[] } {
  const byAmount = new Map<number, string[]>();
  for (const [key, amount] of amounts) {
    const keys = byAmount.get(amount);
    if (keys) keys.push(key);
    else byAmount.set(amount, [key]);
  }
  const groups = [...byAmount];
  return {
    sql: `CASE ${groups.map(([, keys]) => `WHEN ${keySql} IN (${marks(keys.length)}) THEN ?`).join(' ')} END`,
    bindings: groups.flatMap(([amount, keys]) => [...keys, amount]),
  };
}

/** Options for {@link moveAmounts}. */
export interface MoveAmounts {
  table: string;
  /** The key column the amounts are for. */
  key: string;
  amounts: ReadonlyMap<string, number>;
  /** Columns moved by each row's amount: `+` adds it, `-` subtracts it. */
  moves: readonly { column: string; sign: '+' | '-' }[];
  /** The compare-and-set: a condition on the row's amount, e.g. `(a) => \`stock >= ${a}\``. */
  guard?: (amountSql: string) => string;
  /** Stamps `updated_at` with it; omitted for tables without one. */
  now?: Date;
}

/**
 * One `UPDATE … SET col = col ± CASE key … END … WHERE key IN (…) AND <guard>` for every key: the statement that
 * takes or gives back a kind's amounts for a whole batch. It must touch every key, so it expects that many rows.
 */
export function moveAmounts(trx: Knex.Transaction, m: MoveAmounts): Knex.Raw & { rows: number } {
  const amount = amountCase(m.key, m.amounts);
  const sets = m.moves.map((mv) => `${mv.column} = ${mv.column} ${mv.sign} ${amount.sql}`);
  const keys = [...m.amounts.keys()];
  if (m.now) sets.push('updated_at = ?');
  const sql =
    `UPDATE ${m.table} SET ${sets.join(', ')} WHERE ${m.key} IN (${marks(keys.length)})` +
    (m.guard ? ` AND ${m.guard(amount.sql)}` : '');
  const bindings = [
    ...m.moves.flatMap(() => amount.bindings),
    ...(m.now ? [m.now] : []),
    ...keys,
    ...(m.guard ? amount.bindings : []),
  ] as Knex.RawBinding[];
  return Object.assign(trx.raw(sql, bindings), { rows: keys.length });
}

/** {@link moveAmounts} as a checked statement: `onMismatch` when any key was not updated. */
export function checkedMove(trx: Knex.Transaction, m: MoveAmounts, onMismatch: () => Error): CheckedStatement[] {
  if (m.amounts.size === 0) return [];
  const statement = moveAmounts(trx, m);
  return [{ statement, expectRows: statement.rows, onMismatch }];
}

/** What a {@link mover} changes: which columns move, under which guard. */
export type Change = Pick<MoveAmounts, 'moves' | 'guard'>;

/**
 * {@link checkedMove} for one table and key: moves each resource by the summed amounts of the holds given
 * (`updated_at` stamped with `now`).
 */
export const mover =
  (table: string, key: string) =>
  (
    trx: Knex.Transaction,
    holds: readonly Pick<HoldClaim, 'resourceId' | 'amount'>[],
    now: Date,
    change: Change,
    onMismatch: () => Error,
  ) =>
    checkedMove(trx, { table, key, amounts: sumByResource(holds), now, ...change }, onMismatch);
