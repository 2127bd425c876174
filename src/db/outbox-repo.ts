import type { TimeoutMessage } from '../domain/timeout-message';
import type { Knex } from 'knex';

export interface OutboxMessage {
  id: string;
  messageId: string;
  kind: string;
  orderId: string | null;
  payload: string;
  attempts: number;
  /** The payload already decoded, when the row was written by this process (saves reading it back). */
  message?: TimeoutMessage;
}

export interface NewOutboxMessage {
  messageId: string;
  kind: string;
  /** An id, or SQL yielding it (an order inserted in the same round trip). */
  orderId: string | null | Knex.Raw;
  /** The body, or SQL yielding it. */
  payload: string | Knex.Raw;
}

/**
 * The statement writing a message in the caller's transaction, already claimed by `owner` for `claimForMs`: the
 * process that commits it publishes it at once, and the relay leaves it alone unless that process dies first.
 */
export function outboxInsert(
  trx: Knex.Transaction,
  msg: NewOutboxMessage,
  owner: string,
  now: Date,
  claimForMs: number,
): Knex.QueryBuilder {
  return trx('outbox').insert({
    message_id: msg.messageId,
    kind: msg.kind,
    order_id: msg.orderId,
    payload: msg.payload,
    created_at: now,
    claimed_by: owner,
    claimed_until: new Date(now.getTime() + claimForMs),
  });
}

/** Claims up to `limit` unsent rows whose claim has lapsed; safe with several relays (SKIP LOCKED). */
export async function claimOutbox(
  db: Knex,
  owner: string,
  now: Date,
  claimForMs: number,
  limit: number,
): Promise<OutboxMessage[]> {
  return db.transaction(async (trx) => {
    const rows = await trx('outbox')
      .select('id', 'message_id', 'kind', 'order_id', 'payload', 'attempts')
      .whereNull('sent_at')
      .andWhere((q) => void q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked();
    if (rows.length === 0) return [];
    await trx('outbox')
      .update({
        claimed_by: owner,
        claimed_until: new Date(now.getTime() + claimForMs),
        attempts: trx.raw('attempts + 1'),
      })
      .whereIn(
        'id',
        rows.map((r: { id: number }) => r.id),
      );
    return rows.map(
      (r: {
        id: number | string;
        message_id: string;
        kind: string;
        order_id: number | string | null;
        payload: string;
        attempts: number;
      }) => ({
        id: String(r.id),
        messageId: r.message_id,
        kind: r.kind,
        orderId: r.order_id === null ? null : String(r.order_id),
        payload: r.payload,
        attempts: r.attempts + 1,
      }),
    );
  });
}

export async function markOutboxSent(db: Knex, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await db('outbox')
    .update({ sent_at: now, claimed_until: null, last_error: null })
    .whereIn('id', ids as string[]);
}

/** Gives up a claim after a failed publish so the next relay round retries at once. */
export async function releaseOutbox(db: Knex, ids: readonly string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db('outbox')
    .update({ claimed_until: null, last_error: error.slice(0, 500) })
    .whereIn('id', ids as string[])
    .whereNull('sent_at');
}

/** Unsent rows and the age of the oldest, for metrics and health. */
export async function outboxBacklog(db: Knex, now: Date): Promise<{ waiting: number; oldestAgeMs: number }> {
  const row = await db('outbox').whereNull('sent_at').count({ n: '*' }).min({ oldest: 'created_at' }).first();
  const oldest = row?.oldest ? new Date(row.oldest as Date).getTime() : now.getTime();
  return { waiting: Number(row?.n ?? 0), oldestAgeMs: Math.max(0, now.getTime() - oldest) };
}
