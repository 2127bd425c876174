import type { Knex } from 'knex';
import { auditHolds, type AuditFinding, type KindAudit } from '../db/holds';
import { findOverdueOrders } from '../db/orders-repo';
import { auditPayments } from '../db/payments-repo';

export { auditStock, type StockMismatch } from '../db/holds/stock';

/** What `order-timeout audit` found. */
export interface AuditReport {
  /** True when every kind and the payments add up and no order is overdue. */
  ok: boolean;
  /** One entry per hold kind, in lock order; `mismatches` empty when the kind adds up. */
  kinds: KindAudit[];
  /** Orders whose captured payments do not match them (money not conserved). */
  payments: AuditFinding;
  /** PENDING_PAYMENT orders past their deadline by more than the grace (at most 1,000). */
  overduePending: { id: string; expiresAt: Date }[];
}

/** Checks every hold kind, the payments, and that no order is pending more than `graceMs` past its deadline. */
export async function runAudit(db: Knex, now: Date, graceMs: number): Promise<AuditReport> {
  const kinds = await auditHolds(db);
  const payments = await auditPayments(db);
  const overduePending = await findOverdueOrders(db, new Date(now.getTime() - graceMs), 1000);
  const ok = [...kinds, payments].every((k) => k.mismatches.length === 0) && overduePending.length === 0;
  return { ok, kinds, payments, overduePending };
}
