import type { Knex } from 'knex';
import { groupByKind, HOLD_KINDS, type Hold, type HoldAction, type HoldClaim, type HoldKind } from '../../domain/holds';
import { runTogether, runTogetherRaw, type StatementResult } from '../run-together';
import { couponHolds } from './coupon';
import type { CheckedStatement, HoldStore, KindAudit, TakeContext } from './hold-store';
import { orderHoldsQuery, recordHolds } from './order-holds';
import { pointsHolds } from './points';
import { promotionHolds } from './promotion';
import { stockHolds } from './stock';

export type { AuditFinding, CheckedStatement, KindAudit } from './hold-store';
export { HoldConflictError, HoldsUnavailableError } from './hold-store';

/** Every kind an order can hold, one entry each, in lock order (HOLD_KINDS). A new kind is one more entry. */
export const HOLD_STORES: readonly HoldStore[] = [stockHolds, promotionHolds, couponHolds, pointsHolds];
if (HOLD_STORES.map((s) => s.kind).join() !== HOLD_KINDS.join()) throw new Error('HOLD_STORES must follow HOLD_KINDS');

const METHOD: Record<Exclude<HoldAction, 'unchanged'>, 'giveBack' | 'keep' | 'retake'> = {
  release: 'giveBack',
  keep: 'keep',
  retake: 'retake',
};

/** The queries reading everything the given orders hold (every kind), to send in one round trip. */
export function heldQueries(trx: Knex.Transaction, orderIds: readonly string[]): Knex.QueryBuilder[] {
  return [
    orderHoldsQuery(trx, orderIds),
    ...HOLD_STORES.flatMap((s) => (s.heldQuery ? [s.heldQuery(trx, orderIds)] : [])),
  ];
}

interface HeldRow {
  order_id: number | string;
  customer_id: string;
  kind?: HoldKind;
  resource_id: number | string;
  amount: number | string;
}

/** The holds in the results of {@link heldQueries}, in the same order. */
export function toHolds(results: readonly unknown[]): Hold[] {
  const ownSources = HOLD_STORES.filter((s) => s.heldQuery).map((s) => s.kind);
  return results.flatMap((rows, i) =>
    (rows as HeldRow[]).map((r) => ({
      orderId: String(r.order_id),
      customerId: r.customer_id,
      kind: i === 0 ? r.kind! : ownSources[i - 1]!,
      resourceId: String(r.resource_id),
      amount: Number(r.amount),
    })),
  );
}

/** Reads what the given orders hold, in one round trip of its own. */
export async function readHolds(trx: Knex.Transaction, orderIds: readonly string[]): Promise<Hold[]> {
  if (orderIds.length === 0) return [];
  return toHolds(await runTogetherRaw(trx, heldQueries(trx, orderIds)));
}

/** The statements that apply a transition's hold action to these holds, kind by kind in lock order. */
export function holdStatements(
  action: HoldAction,
  trx: Knex.Transaction,
  holds: readonly Hold[],
  now: Date,
): CheckedStatement[] {
  if (action === 'unchanged') return [];
  const byKind = groupByKind(holds);
  return HOLD_STORES.flatMap((s) => {
    const ofKind = byKind.get(s.kind);
    return ofKind ? s[METHOD[action]](trx, ofKind, now) : [];
  });
}

/** The statements that take a new order's claims, kind by kind, and record them (for kinds kept in order_holds). */
export function takeStatements(ctx: TakeContext, claims: readonly HoldClaim[]): CheckedStatement[] {
  const byKind = groupByKind(claims);
  const takes = HOLD_STORES.flatMap((s) => {
    const ofKind = byKind.get(s.kind);
    return ofKind ? s.take(ctx, ofKind) : [];
  });
  const recorded = claims.filter((c) => !HOLD_STORES.find((s) => s.kind === c.kind)!.heldQuery);
  return [...takes, ...recordHolds(ctx.trx, ctx.orderId, ctx.customerId, recorded).map((statement) => ({ statement }))];
}

/**
 * Sends the statements in one round trip and checks each one's affected rows; the first that did not match
 * throws its error (the caller's transaction then rolls back, undoing the ones that did).
 */
export async function runChecked(
  trx: Knex.Transaction,
  statements: readonly CheckedStatement[],
): Promise<StatementResult[]> {
  if (statements.length === 0) return [];
  const results = await runTogether(
    trx,
    statements.map((s) => s.statement),
  );
  statements.forEach((s, i) => {
    if (s.expectRows !== undefined && Number(results[i]?.affectedRows ?? 0) !== s.expectRows) {
      throw s.onMismatch?.() ?? new Error(`a statement affected ${results[i]?.affectedRows} rows, not ${s.expectRows}`);
    }
  });
  return results;
}

/** Every kind's audit: what does not add up. */
export async function auditHolds(db: Knex): Promise<KindAudit[]> {
  const audits: KindAudit[] = [];
  for (const store of HOLD_STORES) audits.push(await store.audit(db));
  return audits;
}
