import type { Knex } from 'knex';
import { sumByResource, type HoldClaim } from '../../domain/holds';
import { AppError } from '../../errors';
import { checkedMove, HoldConflictError, HoldsUnavailableError, type MoveAmounts, type HoldStore } from './hold-store';
import { holdTotalsSql, selectRows } from './order-holds';

/** Moves points of `points_accounts` (keyed by customer) by the summed amounts. */
const movePoints = (
  trx: Knex.Transaction,
  holds: readonly HoldClaim[],
  now: Date,
  change: Pick<MoveAmounts, 'moves' | 'guard'>,
  onMismatch: () => Error,
) =>
  checkedMove(
    trx,
    { table: 'points_accounts', key: 'customer_id', amounts: sumByResource(holds), now, ...change },
    onMismatch,
  );

const conflict = () => new HoldConflictError('points', 'an account holding fewer points than its orders');

/**
 * Points (1 point = 1 cent off): redeeming moves them from the customer's `balance` to `held`; a close gives them
 * back to the balance, a payment spends them (out of `held`). The resource is the customer.
 */
export const pointsHolds: HoldStore = {
  kind: 'points',

  take: ({ trx, now }, claims) =>
    movePoints(
      trx,
      claims,
      now,
      {
        moves: [
          { column: 'balance', sign: '-' },
          { column: 'held', sign: '+' },
        ],
        guard: (a) => `balance >= ${a}`,
      },
      () =>
        new AppError(
          409,
          'points-insufficient',
          'Not enough points',
          'the points were spent meanwhile; nothing was taken',
        ),
    ),

  giveBack: (trx, holds, now) =>
    movePoints(
      trx,
      holds,
      now,
      {
        moves: [
          { column: 'balance', sign: '+' },
          { column: 'held', sign: '-' },
        ],
        guard: (a) => `held >= ${a}`,
      },
      conflict,
    ),

  keep: (trx, holds, now) =>
    movePoints(trx, holds, now, { moves: [{ column: 'held', sign: '-' }], guard: (a) => `held >= ${a}` }, conflict),

  retake: (trx, holds, now) =>
    movePoints(
      trx,
      holds,
      now,
      { moves: [{ column: 'balance', sign: '-' }], guard: (a) => `balance >= ${a}` },
      () => new HoldsUnavailableError('points'),
    ),

  async audit(db) {
    const totals = holdTotalsSql('points');
    const rows = await selectRows<{
      customer_id: string;
      balance: number | string;
      held: number | string;
      granted: string | null;
      taken: string | null;
      on_pending: string | null;
      spent: string | null;
    }>(
      db,
      `SELECT a.customer_id, a.balance, a.held, l.granted, l.taken, t.held AS on_pending, t.kept AS spent
         FROM points_accounts a
         LEFT JOIN (SELECT customer_id, SUM(CASE WHEN delta > 0 THEN delta ELSE 0 END) AS granted,
                           SUM(CASE WHEN delta < 0 THEN -delta ELSE 0 END) AS taken
                      FROM points_ledger GROUP BY customer_id) l ON l.customer_id = a.customer_id
         LEFT JOIN (${totals.sql}) t ON t.resource_id = a.customer_id
        WHERE a.held <> COALESCE(t.held, 0)
           OR a.balance + a.held <> COALESCE(l.granted, 0) - COALESCE(l.taken, 0) - COALESCE(t.kept, 0)
        ORDER BY a.customer_id`,
      totals.bindings,
    );
    return {
      kind: 'points',
      rule: 'points not conserved (held should equal what pending orders redeem; balance + held should equal granted - taken - spent)',
      columns: ['customerId', 'balance', 'held', 'onPendingOrders', 'granted', 'taken', 'spent'],
      mismatches: rows.map((r) => ({
        customerId: r.customer_id,
        balance: Number(r.balance),
        held: Number(r.held),
        onPendingOrders: Number(r.on_pending ?? 0),
        granted: Number(r.granted ?? 0),
        taken: Number(r.taken ?? 0),
        spent: Number(r.spent ?? 0),
      })),
    };
  },
};
