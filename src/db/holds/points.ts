import { AppError } from '../../errors';
import { HoldConflictError, HoldsUnavailableError, mover, type Change, type HoldStore } from './hold-store';
import { holdTotalsSql, selectRows } from './order-holds';

/** Moves points of `points_accounts` (keyed by customer) by the summed amounts. */
const movePoints = mover('points_accounts', 'customer_id');

const conflict = () => new HoldConflictError('points', 'an account holding fewer points than its orders');
const short = () =>
  new AppError(409, 'points-insufficient', 'Not enough points', 'the points were spent meanwhile; nothing was taken');

const fromBalance = { column: 'balance', sign: '-' } as const;
const toBalance = { column: 'balance', sign: '+' } as const;
const toHeld = { column: 'held', sign: '+' } as const;
const fromHeld = { column: 'held', sign: '-' } as const;
const REDEEM: Change = { moves: [fromBalance, toHeld], guard: (a) => `balance >= ${a}` };
const GIVE_BACK: Change = { moves: [toBalance, fromHeld], guard: (a) => `held >= ${a}` };
const SPEND_HELD: Change = { moves: [fromHeld], guard: (a) => `held >= ${a}` };
const SPEND_BALANCE: Change = { moves: [fromBalance], guard: (a) => `balance >= ${a}` };

/**
 * Points (1 point = 1 cent off): redeeming moves them from the customer's `balance` to `held`; a close gives them
 * back to the balance, a payment spends them (out of `held`). The resource is the customer.
 */
export const pointsHolds: HoldStore = {
  kind: 'points',
  take: ({ trx, now }, claims) => movePoints(trx, claims, now, REDEEM, short),
  giveBack: (trx, holds, now) => movePoints(trx, holds, now, GIVE_BACK, conflict),
  keep: (trx, holds, now) => movePoints(trx, holds, now, SPEND_HELD, conflict),
  retake: (trx, holds, now) => movePoints(trx, holds, now, SPEND_BALANCE, () => new HoldsUnavailableError('points')),

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
