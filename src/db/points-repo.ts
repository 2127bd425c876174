import type { Knex } from 'knex';
import { AppError } from '../errors';
import { affectedRows } from './run-together';

export interface PointsAccount {
  customerId: string;
  /** Points the customer can redeem now. */
  balance: number;
  /** Points redeemed by pending orders: back to the balance if they close, spent if they are paid. */
  held: number;
}

interface PointsRow {
  customer_id: string;
  balance: number | string;
  held: number | string;
}

/** A customer's points; a customer never granted any has an account of zeros. */
export async function findPoints(db: Knex, customerId: string): Promise<PointsAccount> {
  const row = (await db('points_accounts').where({ customer_id: customerId }).first()) as PointsRow | undefined;
  return { customerId, balance: Number(row?.balance ?? 0), held: Number(row?.held ?? 0) };
}

/**
 * Grants (delta > 0) or takes (delta < 0) points and records it in the ledger, in one transaction; a take larger
 * than the balance is refused (409 points-insufficient) and changes nothing.
 */
export async function changePoints(
  db: Knex,
  change: { customerId: string; delta: number; reason: string },
  now: Date,
): Promise<PointsAccount> {
  return db.transaction(async (trx) => {
    await trx.raw(
      `INSERT INTO points_accounts (customer_id, balance, held, created_at, updated_at) VALUES (?, 0, 0, ?, ?)
       ON DUPLICATE KEY UPDATE customer_id = customer_id`,
      [change.customerId, now, now],
    );
    const changed: unknown = await trx.raw(
      'UPDATE points_accounts SET balance = balance + ?, updated_at = ? WHERE customer_id = ? AND balance + ? >= 0',
      [change.delta, now, change.customerId, change.delta],
    );
    if (affectedRows(changed) !== 1) {
      const { balance } = await findPoints(trx, change.customerId);
      throw new AppError(
        409,
        'points-insufficient',
        'Not enough points',
        `customer ${change.customerId} has ${balance} points; cannot take ${-change.delta}`,
        { balance },
      );
    }
    await trx('points_ledger').insert({
      customer_id: change.customerId,
      delta: change.delta,
      reason: change.reason,
      created_at: now,
    });
    return findPoints(trx, change.customerId);
  });
}

/** Locks and reads a customer's points, in a create transaction (the last kind locked). */
export function lockPointsQuery(trx: Knex.Transaction, customerId: string): Knex.QueryBuilder {
  return trx('points_accounts').select('balance').where({ customer_id: customerId }).forUpdate();
}

/** The balance in the rows of {@link lockPointsQuery} (0 without an account). */
export const toLockedBalance = (rows: unknown): number => Number((rows as PointsRow[])[0]?.balance ?? 0);
