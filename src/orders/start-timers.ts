import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { CheckedStatement } from '../db/holds';
import { outboxInsert, type OutboxMessage } from '../db/outbox-repo';
import type { StatementResult } from '../db/run-together';
import type { OrderEvent } from '../domain/order-lifecycle';
import type { Policy } from '../domain/policy';
import { encodeTimeoutMessage } from '../domain/timeout-message';
import { timersStartedBy, type TimerKind, type TimerSubject } from '../domain/timer-kinds';
import type { UseCaseDeps } from './use-case-deps';

/** The outbox `kind` of every timer message (the body names the timer kind). */
export const TIMEOUT_MESSAGE_KIND = 'order.timeout';
/** Stands for the new order's id in payloads written before the database has given it one. */
export const ORDER_ID_MARK = '@@order-id@@';

/** SQL that puts the new order's id (known only inside the database) where `ORDER_ID_MARK` stands in `text`. */
export const spliceOrderId = (trx: Knex.Transaction, text: string) =>
  trx.raw('REPLACE(?, ?, @order_id)', [text, ORDER_ID_MARK]);

/** A timer that a transition starts, and when it is due. */
export interface TimerDue {
  kind: TimerKind;
  dueAt: Date;
}

/**
 * The timers `event` starts and their due times, from the policy in force now (the order keeps them for good); a
 * kind the policy gives no duration for this order (no reminder for its category) does not start.
 */
export function timerDues(policy: Policy, event: OrderEvent | 'create', subject: TimerSubject, now: Date): TimerDue[] {
  return timersStartedBy(event).flatMap((kind) => {
    const ms = kind.durationMs(policy, subject);
    return ms === undefined ? [] : [{ kind, dueAt: new Date(now.getTime() + ms) }];
  });
}

/** The orders columns the timers set: each kind's due column. */
export const dueColumns = (dues: readonly TimerDue[]): Record<string, Date> =>
  Object.fromEntries(dues.map((d) => [d.kind.dueColumn, d.dueAt]));

/** The outbox rows of started timers, and how to hand them to the publisher once their transaction committed. */
export interface TimerRows {
  statements: CheckedStatement[];
  /** The rows as written, for `onScheduled`, given the order's id and the results of `statements`. */
  written(orderId: string, results: readonly StatementResult[]): OutboxMessage[];
}

/**
 * The outbox rows of `dues`, written in the transaction that starts them, already claimed by this process. `orderId`
 * may be SQL (an order inserted in the same round trip): its id is then spliced into the payload by the database.
 */
export function timerRows(
  trx: Knex.Transaction,
  ctx: Pick<UseCaseDeps, 'processId' | 'claimForMs'>,
  dues: readonly TimerDue[],
  orderId: string | Knex.Raw,
  now: Date,
): TimerRows {
  const timers = dues.map((d) => ({ ...d, messageId: randomUUID() }));
  const message = (id: string, t: TimerDue) => ({
    orderId: id,
    expiresAt: t.dueAt.toISOString(),
    attempt: 0,
    kind: t.kind.name,
  });
  const payload = (id: string, t: TimerDue) => encodeTimeoutMessage(message(id, t)).toString();
  return {
    statements: timers.map((t) => ({
      statement: outboxInsert(
        trx,
        {
          messageId: t.messageId,
          kind: TIMEOUT_MESSAGE_KIND,
          orderId,
          payload: typeof orderId === 'string' ? payload(orderId, t) : spliceOrderId(trx, payload(ORDER_ID_MARK, t)),
        },
        ctx.processId,
        now,
        ctx.claimForMs,
      ),
    })),
    written: (id, results) =>
      timers.map((t, i) => ({
        id: String(results[i]!.insertId),
        messageId: t.messageId,
        kind: TIMEOUT_MESSAGE_KIND,
        orderId: id,
        payload: payload(id, t),
        attempts: 0,
        createdAt: now,
        sequence: null,
        message: message(id, t),
      })),
  };
}
