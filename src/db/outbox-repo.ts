import type { TimeoutMessage } from '../domain/timeout-message';
import type { Knex } from 'knex';

export interface OutboxMessage {
  id: string;
  messageId: string;
  kind: string;
  orderId: string | null;
  payload: string;
  attempts: number;
  /** When the row was written: the transition's time, for an event. */
  createdAt: Date;
  /** An order event's place among its order's events (1, 2, …); null for other kinds (timeouts). */
  sequence: number | null;
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
  /** An order event's sequence (see {@link OutboxMessage.sequence}); omitted for other kinds. */
  sequence?: number;
}

/**
 * The statement writing messages in the caller's transaction (one multi-row insert), already claimed by `owner` for
 * `claimForMs`: the process that commits them publishes them at once, and the relay leaves them alone unless that
 * process dies first. `claimForMs` 0 leaves them unclaimed, for the relay of a running service (the CLI).
 * A multi-row insert takes consecutive ids (a "simple insert" in every InnoDB auto-increment lock mode), so row i
 * has the statement's insertId + i.
 */
export function outboxInsert(
  trx: Knex.Transaction,
  msgs: NewOutboxMessage | readonly NewOutboxMessage[],
  owner: string,
  now: Date,
  claimForMs: number,
): Knex.QueryBuilder {
  const claim =
    claimForMs > 0
      ? { claimed_by: owner, claimed_until: new Date(now.getTime() + claimForMs) }
      : { claimed_by: null, claimed_until: null };
  return trx('outbox').insert(
    (Array.isArray(msgs) ? msgs : [msgs]).map((msg: NewOutboxMessage) => ({
      message_id: msg.messageId,
      kind: msg.kind,
      order_id: msg.orderId,
      payload: msg.payload,
      sequence: msg.sequence ?? null,
      created_at: now,
      ...claim,
    })),
  );
}

interface OutboxRow {
  id: number | string;
  message_id: string;
  kind: string;
  order_id: number | string | null;
  payload: string;
  attempts: number;
  created_at: Date;
  sequence: number | null;
}

/**
 * An unsent order event with an earlier event of the same order still unsent: it must wait (an order's events
 * leave in commit order, and within one order the outbox id follows commit order, since every transaction that
 * writes an order's event holds that order's row lock).
 */
const earlierEventUnsent = (db: Knex, outer: string) =>
  db('outbox AS e')
    .select(db.raw('1'))
    .whereRaw(`e.order_id = ${outer}.order_id`)
    .whereNull('e.sent_at')
    .whereNotNull('e.sequence')
    .whereRaw(`e.id < ${outer}.id`);

/**
 * Claims up to `limit` unsent rows whose claim has lapsed; safe with several relays (SKIP LOCKED). An order event
 * is claimed only once every earlier event of its order was sent.
 */
export async function claimOutbox(
  db: Knex,
  owner: string,
  now: Date,
  claimForMs: number,
  limit: number,
): Promise<OutboxMessage[]> {
  return db.transaction(async (trx) => {
    const rows = (await trx('outbox AS o')
      .select('id', 'message_id', 'kind', 'order_id', 'payload', 'attempts', 'created_at', 'sequence')
      .whereNull('sent_at')
      .andWhere((q) => void q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .andWhere((q) => void q.whereNull('sequence').orWhereNotExists(earlierEventUnsent(trx, 'o')))
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()) as OutboxRow[];
    if (rows.length === 0) return [];
    await trx('outbox')
      .update({
        claimed_by: owner,
        claimed_until: new Date(now.getTime() + claimForMs),
        attempts: trx.raw('attempts + 1'),
      })
      .whereIn(
        'id',
        rows.map((r) => r.id),
      );
    return rows.map((r) => ({
      id: String(r.id),
      messageId: r.message_id,
      kind: r.kind,
      orderId: r.order_id === null ? null : String(r.order_id),
      payload: r.payload,
      attempts: r.attempts + 1,
      createdAt: r.created_at,
      sequence: r.sequence === null ? null : Number(r.sequence),
    }));
  });
}

/**
 * Of these event rows, the ids that must wait because an earlier event of their order is still unsent (one query
 * per batch, on the (order_id, sent_at) index). Rows of sequence 1 (`created`) never wait: nothing comes before.
 */
export async function eventsWaitingForEarlier(db: Knex, rows: readonly OutboxMessage[]): Promise<Set<string>> {
  const later = rows.filter((r) => r.sequence !== null && r.sequence > 1 && r.orderId !== null);
  if (later.length === 0) return new Set();
  const firsts: { order_id: number | string; first: number | string }[] = await db('outbox')
    .select('order_id')
    .min({ first: 'id' })
    .whereIn('order_id', [...new Set(later.map((r) => r.orderId!))])
    .whereNull('sent_at')
    .whereNotNull('sequence')
    .groupBy('order_id');
  const first = new Map(firsts.map((f) => [String(f.order_id), String(f.first)]));
  return new Set(later.filter((r) => first.get(r.orderId!) !== r.id).map((r) => r.id));
}

export async function markOutboxSent(db: Knex, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await db('outbox')
    .update({ sent_at: now, claimed_until: null, last_error: null })
    .whereIn('id', ids as string[]);
}

/**
 * Extends `owner`'s claims on rows it wrote and still holds (unsent, claim not lapsed, never claimed by a relay) for
 * another `claimForMs`; answers the ids it holds. A row whose claim lapsed is left to whichever relay claims it.
 */
export async function renewOutboxClaims(
  db: Knex,
  ids: readonly string[],
  owner: string,
  now: Date,
  claimForMs: number,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const held = () =>
    db('outbox')
      .whereIn('id', ids as string[])
      .andWhere({ claimed_by: owner, attempts: 0 })
      .andWhere('claimed_until', '>', now)
      .whereNull('sent_at');
  await held().update({ claimed_until: new Date(now.getTime() + claimForMs) });
  const rows: { id: number | string }[] = await held().select('id');
  return new Set(rows.map((r) => String(r.id)));
}

/** Gives up a claim after a failed publish so the next relay round retries at once. */
export async function releaseOutbox(db: Knex, ids: readonly string[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db('outbox')
    .update({ claimed_until: null, last_error: error.slice(0, 500) })
    .whereIn('id', ids as string[])
    .whereNull('sent_at');
}

/** What waits in the outbox, for metrics and health. */
export interface OutboxBacklog {
  /** Unsent rows of every kind. */
  waiting: number;
  /** Age of the oldest unsent row (0 when none). */
  oldestAgeMs: number;
  /** Age of the oldest unsent order event (0 when none). */
  oldestEventAgeMs: number;
}

/** Unsent rows and the age of the oldest (of any kind, and of the order events), in one query. */
export async function outboxBacklog(db: Knex, now: Date): Promise<OutboxBacklog> {
  const row: { n?: number | string; oldest?: Date | null; oldest_event?: Date | null } | undefined = await db('outbox')
    .whereNull('sent_at')
    .count({ n: '*' })
    .min({ oldest: 'created_at' })
    .select(db.raw('MIN(CASE WHEN sequence IS NOT NULL THEN created_at END) AS oldest_event'))
    .first();
  const age = (at: Date | null | undefined) => (at ? Math.max(0, now.getTime() - new Date(at).getTime()) : 0);
  return { waiting: Number(row?.n ?? 0), oldestAgeMs: age(row?.oldest), oldestEventAgeMs: age(row?.oldest_event) };
}
