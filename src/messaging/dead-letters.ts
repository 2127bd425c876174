import type { ConfirmChannel, GetMessage, MessagePropertyHeaders } from 'amqplib';
import { PARKED_AT_HEADER, PARKED_FROM_HEADER, PARK_REASON_HEADER } from './park';
import { TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from './topology';

/** One dead letter as operators see it. */
export interface DeadLetter {
  messageId: string | null;
  orderId: string | null;
  /** Why it was parked: our `x-park-reason`, or the broker's dead-letter reason (e.g. `delivery_limit`). */
  reason: string | null;
  attempts: number | null;
  parkedAt: string | null;
  /** Where and why it first died, from `x-death` (queue and reason), if the broker dead-lettered it. */
  firstDeath: { queue: string; reason: string } | null;
  replays: number;
  bytes: number;
}

const REPLAY_COUNT_HEADER = 'x-replay-count';
const REPLAYED_AT_HEADER = 'x-replayed-at';
const REPLAYED_FROM_HEADER = 'x-replayed-from';
/** Headers a replayed copy must not carry: RabbitMQ's own dead-letter history and our park marks. */
const DROPPED_ON_REPLAY = [
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
  'x-delivery-count',
  PARK_REASON_HEADER,
  PARKED_AT_HEADER,
  PARKED_FROM_HEADER,
];

function parseBody(content: Buffer): Record<string, unknown> | null {
  try {
    const value = JSON.parse(content.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const text = (v: unknown) =>
  v === undefined || v === null
    ? null
    : Buffer.isBuffer(v)
      ? v.toString('utf8')
      : typeof v === 'string'
        ? v
        : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
          ? v.toString()
          : JSON.stringify(v);

export function describeDeadLetter(msg: GetMessage): DeadLetter {
  const headers: MessagePropertyHeaders = msg.properties.headers ?? {};
  const body = parseBody(msg.content);
  // x-death lists the most recent death first.
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as unknown as Record<string, unknown>[]) : [];
  const first = deaths[deaths.length - 1];
  const firstQueue = text(headers['x-first-death-queue']) ?? text(first?.queue);
  const firstReason = text(headers['x-first-death-reason']) ?? text(first?.reason);
  return {
    messageId: text(msg.properties.messageId),
    orderId:
      body && (typeof body.orderId === 'string' || typeof body.orderId === 'number') ? String(body.orderId) : null,
    reason: text(headers[PARK_REASON_HEADER]) ?? firstReason,
    attempts: body && typeof body.attempt === 'number' ? body.attempt : null,
    parkedAt:
      text(headers[PARKED_AT_HEADER]) ??
      (first?.time
        ? new Date(Number((first.time as { value?: number }).value ?? first.time) * 1000).toISOString()
        : null),
    firstDeath: firstQueue && firstReason ? { queue: firstQueue, reason: firstReason } : null,
    replays: Number(headers[REPLAY_COUNT_HEADER] ?? 0),
    bytes: msg.content.length,
  };
}

/**
 * Reads up to `limit` messages without removing them: each is fetched unacknowledged, to be put back with
 * {@link returnInOrder} (or, in any order, by closing the channel).
 */
export async function peekQueue(channel: ConfirmChannel, queue: string, limit: number): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  while (out.length < limit) {
    const msg = await channel.get(queue, { noAck: false });
    if (!msg) break;
    out.push(msg);
  }
  return out;
}

/**
 * Puts messages fetched by {@link peekQueue} and still unacknowledged back into `queue`, in their order.
 * Closing the channel returns them too, but a quorum queue (seen on RabbitMQ 3.10) that has more than one
 * batch of returns in hand, or a batch of more than 32, takes them back out of order. So they go back a
 * batch at a time, each once the queue shows the previous one as ready again. Should the queue not get
 * there (a consumer is taking messages), the rest go back at once, in whatever order the broker picks.
 */
export async function returnInOrder(
  channel: ConfirmChannel,
  queue: string,
  messages: readonly GetMessage[],
  batchSize = 32,
  waitMs = 2_000,
): Promise<void> {
  if (messages.length === 0) return;
  let expected = (await channel.checkQueue(queue)).messageCount;
  for (let i = 0; i < messages.length; i += batchSize) {
    const batch = messages.slice(i, i + batchSize);
    for (const msg of batch) channel.nack(msg, false, true);
    expected += batch.length;
    const deadline = Date.now() + waitMs;
    while ((await channel.checkQueue(queue)).messageCount < expected) {
      if (Date.now() > deadline) {
        for (const msg of messages.slice(i + batchSize)) channel.nack(msg, false, true);
        return;
      }
    }
  }
}

/**
 * Call before closing a channel that acknowledged messages from a quorum queue. RabbitMQ can drop the acks a
 * channel sent just before it closed (rabbitmq-server#10327; on 3.10 all but the first 34 or so of a burst),
 * and the messages come back: moved, yet still parked. A few round trips give the channel time to pass them on.
 */
export async function letAcksSettle(channel: ConfirmChannel, queue: string, rounds = 5, pauseMs = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await channel.checkQueue(queue);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** What selects messages for a replay; every given criterion must match. */
export interface ReplayFilter {
  orderIds?: readonly string[];
  /** Case-insensitive substring of the park reason (or the broker's dead-letter reason). */
  reason?: string;
}

export function matchesFilter(letter: DeadLetter, filter: ReplayFilter): boolean {
  if (filter.orderIds && filter.orderIds.length > 0 && (!letter.orderId || !filter.orderIds.includes(letter.orderId)))
    return false;
  if (filter.reason && !(letter.reason ?? '').toLowerCase().includes(filter.reason.toLowerCase())) return false;
  return true;
}

/** The copy that goes back to `order.timeout`: attempt reset, replay recorded, dead-letter history dropped. */
export function replayCopy(
  msg: GetMessage,
  fromQueue: string,
  now: Date,
): { content: Buffer; headers: Record<string, unknown> } {
  const headers: Record<string, unknown> = { ...(msg.properties.headers ?? {}) };
  for (const h of DROPPED_ON_REPLAY) delete headers[h];
  headers[REPLAY_COUNT_HEADER] = Number(headers[REPLAY_COUNT_HEADER] ?? 0) + 1;
  headers[REPLAYED_AT_HEADER] = now.toISOString();
  headers[REPLAYED_FROM_HEADER] = fromQueue;
  const body = parseBody(msg.content);
  // A body the closer cannot read goes back as it is: it will be parked again, with its reason.
  const content =
    body && typeof body.attempt === 'number' ? Buffer.from(JSON.stringify({ ...body, attempt: 0 })) : msg.content;
  return { content, headers };
}

export interface ReplayProgress {
  moved: number;
  failed: number;
}

/**
 * Moves `messages` (fetched unacknowledged from `fromQueue` on `channel`) back to `order.timeout`, a window at
 * a time: every copy is confirmed by the broker before its original is acknowledged, so a replay killed half
 * way leaves each message parked, moved, or at worst both (closing tolerates the duplicate).
 */
export async function moveToTimeoutQueue(
  channel: ConfirmChannel,
  messages: GetMessage[],
  fromQueue: string,
  onProgress: (p: ReplayProgress) => void,
  windowSize = 100,
): Promise<ReplayProgress & { errors: string[]; unmoved: GetMessage[] }> {
  const progress = { moved: 0, failed: 0, errors: [] as string[], unmoved: [] as GetMessage[] };
  const returned = new Set<string>();
  const onReturn = (m: { properties: { messageId?: unknown } }) => returned.add(String(m.properties.messageId));
  channel.on('return', onReturn);
  try {
    for (let i = 0; i < messages.length; i += windowSize) {
      const window = messages.slice(i, i + windowSize);
      const publishes = window.map((msg, j) => {
        const { content, headers } = replayCopy(msg, fromQueue, new Date());
        const messageId = msg.properties.messageId ? String(msg.properties.messageId) : `replay-${i + j}-${Date.now()}`;
        return new Promise<string | null>((resolve) => {
          channel.publish(
            TIMEOUT_EXCHANGE,
            TIMEOUT_ROUTING_KEY,
            content,
            {
              persistent: true,
              mandatory: true,
              contentType: (msg.properties.contentType as string | undefined) ?? 'application/json',
              messageId,
              headers,
            },
            (err) =>
              resolve(
                err
                  ? `broker refused ${messageId}: ${String(err)}`
                  : returned.has(messageId)
                    ? `${messageId} unroutable: is ${TIMEOUT_QUEUE_HINT}`
                    : null,
              ),
          );
        });
      });
      const outcomes = await Promise.all(publishes);
      window.forEach((msg, j) => {
        if (outcomes[j] === null) {
          channel.ack(msg);
          progress.moved++;
        } else {
          progress.failed++;
          progress.errors.push(outcomes[j]!);
          progress.unmoved.push(msg);
        }
      });
      onProgress(progress);
    }
  } finally {
    channel.removeListener('return', onReturn);
  }
  return progress;
}

const TIMEOUT_QUEUE_HINT = `${TIMEOUT_EXCHANGE} bound? (order-timeout topology check)`;
