import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { auditHolds } from '../../../src/db/holds';
import { auditPayments } from '../../../src/db/payments-repo';
import { SOLD_STATUSES } from '../../../src/domain/order-lifecycle';

/** One line of the fault report (issue 6): what happened to the orders a scenario drove. */
export interface ScenarioCounts {
  scenario: string;
  /** Orders in the database. */
  orders: number;
  /** Orders the clients were told were created (201). */
  acknowledged: number;
  closed: number;
  paid: number;
  /** Acknowledged orders missing, or still PENDING_PAYMENT past their deadline after the scenario settled. */
  lost: number;
  /** Orders that gave back what they held more than once (more than one releasing event). */
  doubleRestock: number;
  /**
   * Every hold kind adds up (order-timeout audit): stock + held + sold = received per product, each coupon held
   * or used by exactly its one order, promotion units and points as their orders say.
   */
  holdsConserved: boolean;
  /** The kinds that do not add up, when any. */
  unconserved: string[];
  /**
   * Every paid order has exactly one captured payment of its total and no other order has one, so the sum of
   * all payments = the sum over paid orders + the payments kept for refunds: none lost, none counted twice.
   */
  moneyConserved: boolean;
  /** How late orders due during the fault were closed (the cluster and elastic scenarios), when measured. */
  lateness?: string;
}

export const RESULTS_FILE = path.join(__dirname, '..', 'out', 'results.jsonl');

/**
 * Counts what a scenario did to the orders, from the database alone. `acknowledgedIds` are the ids the
 * clients got a 201 for; `graceMs` is how far past its deadline a pending order counts as lost.
 */
export async function countScenario(
  db: Knex,
  scenario: string,
  acknowledgedIds: readonly string[],
  graceMs = 5_000,
): Promise<ScenarioCounts> {
  const [totals] = await db('orders').select(
    db.raw('COUNT(*) AS orders'),
    db.raw("SUM(status = 'CLOSED') AS closed"),
    db.raw("SUM(status = 'PAID') AS paid"),
  );
  const ids = [...acknowledgedIds];
  let missing = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const found = await db('orders').whereIn('id', chunk).count({ n: '*' }).first();
    missing += chunk.length - Number(found?.n ?? 0);
  }
  const overdue = await db('orders')
    .where({ status: 'PENDING_PAYMENT' })
    .andWhere('expires_at', '<', new Date(Date.now() - graceMs))
    .count({ n: '*' })
    .first();
  const releases: { n: number }[] = await db('order_events')
    .select(db.raw('COUNT(*) AS n'))
    .whereIn('event', ['timeout', 'cancel'])
    .groupBy('order_id')
    .having(db.raw('COUNT(*) > 1'));
  const unconserved = (await auditHolds(db)).filter((k) => k.mismatches.length > 0).map((k) => k.kind);
  return {
    scenario,
    orders: Number(totals.orders ?? 0),
    acknowledged: ids.length,
    closed: Number(totals.closed ?? 0),
    paid: Number(totals.paid ?? 0),
    lost: missing + Number(overdue?.n ?? 0),
    doubleRestock: releases.length,
    holdsConserved: unconserved.length === 0,
    unconserved,
    moneyConserved: await moneyConserved(db),
  };
}

/** The money invariant, checked both ways: order by order (the audit), and as sums. */
async function moneyConserved(db: Knex): Promise<boolean> {
  if ((await auditPayments(db)).mismatches.length > 0) return false;
  const [payments] = await db('payments').select(
    db.raw('COALESCE(SUM(amount_cents), 0) AS total'),
    db.raw("COALESCE(SUM(CASE WHEN status <> 'CAPTURED' THEN amount_cents END), 0) AS refunds"),
  );
  const sold = await db('orders')
    .whereIn('status', SOLD_STATUSES as string[])
    .sum({ total: 'total_cents' })
    .first();
  return Number(payments.total) === Number(sold?.total ?? 0) + Number(payments.refunds);
}

const yesNo = (ok: boolean, why = '') => (ok ? 'yes' : `NO${why ? ` (${why})` : ''}`);

export const formatCounts = (c: ScenarioCounts) =>
  `${c.scenario} | ${c.orders} | ${c.acknowledged} | ${c.closed} | ${c.paid} | ${c.lost} | ${c.doubleRestock} | ${yesNo(c.holdsConserved, c.unconserved.join(', '))} | ${yesNo(c.moneyConserved)}${c.lateness ? ` | ${c.lateness}` : ''}`;

/** Prints the scenario's line, records it for the summary, and fails the test if anything was lost. */
export function report(c: ScenarioCounts): void {
  process.stdout.write(`${formatCounts(c)}\n`);
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  appendFileSync(RESULTS_FILE, `${JSON.stringify(c)}\n`);
  expect({ lost: c.lost, doubleRestock: c.doubleRestock, unconserved: c.unconserved, money: c.moneyConserved }).toEqual(
    {
      lost: 0,
      doubleRestock: 0,
      unconserved: [],
      money: true,
    },
  );
}
