import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { eventKind, type OrderEventType } from '../domain/order-event-types';
import { toOrderJson } from '../orders/order-json';
import type { CheckedStatement } from './holds';
import { ordersFromRows, ordersWithItems, type Order, type SequencedOrder } from './orders-repo';
import { outboxInsert, type NewOutboxMessage, type OutboxMessage } from './outbox-repo';
import { runTogetherRaw } from './run-together';

/** How a process writes order events into the outbox (contract §9); absent where events are off (`events.enabled`). */
export interface EventWriting {
  /** Names the writer in outbox claims. */
  owner: string;
  /** How long written rows stay claimed by the writer; 0 leaves them to the relay of a running service (the CLI). */
  claimForMs: number;
  /** Called after commit with the rows written, to publish them at once. */
  written?: (rows: OutboxMessage[]) => void;
}

/** The `orders` column every transaction that writes an event bumps: the event's sequence is the new value. */
export const bumpEventSeq = (trx: Knex.Transaction) => ({ event_seq: trx.raw('event_seq + 1') });

/** An event row before it is written: its body and order id are known. */
export type NewEventRow = NewOutboxMessage & { payload: string; orderId: string };

/** An event row for `order` as it stands after the transition (its JSON is the body, as GET /orders/:id shows it). */
export function newEvent(type: OrderEventType, order: Order, sequence: number): NewEventRow {
  return {
    messageId: randomUUID(),
    kind: eventKind(type),
    orderId: order.id,
    payload: JSON.stringify(toOrderJson(order)),
    sequence,
  };
}

/** The rows as the relay publishes them, once an insert starting at `firstId` wrote them at `now`. */
export function written(rows: readonly NewEventRow[], firstId: number, now: Date) {
  return rows.map((r, i): OutboxMessage => ({
    id: String(firstId + i),
    messageId: r.messageId,
    kind: r.kind,
    orderId: String(r.orderId),
    payload: r.payload,
    attempts: 0,
    createdAt: now,
    sequence: r.sequence ?? null,
  }));
}

/** Hands rows to `w.written` once `trx` has committed (never after a rollback). */
export function publishAfterCommit(trx: Knex.Transaction, w: EventWriting, rows: () => OutboxMessage[]): void {
  trx.executionPromise.then(
    () => w.written?.(rows()),
    () => undefined,
  );
}

/** Events of one transaction, for orders read after its changes: one multi-row insert, published after commit. */
export interface PendingEvents {
  /** The insert, for the transaction's last round trip. */
  statement: CheckedStatement;
  /** Call with the insert's result once it ran. */
  inserted(result: { insertId?: number } | undefined): void;
}

/** The event rows of `type` for these orders (each with the sequence its transition just took). */
export function eventsFor(
  trx: Knex.Transaction,
  w: EventWriting,
  type: OrderEventType,
  orders: readonly SequencedOrder[],
  now: Date,
): PendingEvents {
  const rows = orders.map((o) => newEvent(type, o.order, o.eventSeq));
  let firstId = 0;
  publishAfterCommit(trx, w, () => written(rows, firstId, now));
  return {
    statement: { statement: outboxInsert(trx, rows, w.owner, now, w.claimForMs) },
    inserted: (result) => void (firstId = Number(result?.insertId ?? 0)),
  };
}

/**
 * Writes one event of `type` for an order in the caller's transaction, with the order as it now stands as its body,
 * and publishes it after commit: for whatever records an event without a transition of its own (a payment stored
 * for a refund, a reminder). Bumps the order's sequence, which locks the order row: call it after the transaction's
 * own changes to the order. Two round trips. Returns the row written (undefined when there is no such order).
 */
export async function writeOrderEvent(
  trx: Knex.Transaction,
  w: EventWriting,
  orderId: string,
  type: OrderEventType,
  now: Date,
): Promise<OutboxMessage | undefined> {
  const [, rows] = await runTogetherRaw(trx, [
    trx('orders').update(bumpEventSeq(trx)).where({ id: orderId }),
    ordersWithItems(trx, [orderId]),
  ]);
  const order = ordersFromRows(rows as unknown[]).get(orderId);
  if (!order) return undefined;
  const row = newEvent(type, order.order, order.eventSeq);
  const [result] = (await outboxInsert(trx, row, w.owner, now, w.claimForMs)) as number[];
  const [message] = written([row], Number(result), now);
  publishAfterCommit(trx, w, () => [message!]);
  return message;
}
