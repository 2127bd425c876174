import type { ConfirmChannel, GetMessage, MessagePropertyHeaders } from 'amqplib';
import { ATTEMPT_HEADER, DEATH_HEADERS, URL_HEADER } from '../webhooks/delivery-headers';
import { headerText } from './header-text';
import { PARKED_AT_HEADER, PARKED_FROM_HEADER, PARK_REASON_HEADER } from './park';
import { parseJsonObject, replayRoute } from './replay-routes';

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
  /** The webhook URL a parked delivery was for (password replaced); null for other messages. */
  url: string | null;
}

const REPLAY_COUNT_HEADER = 'x-replay-count';
const REPLAYED_AT_HEADER = 'x-replayed-at';
const REPLAYED_FROM_HEADER = 'x-replayed-from';
/** Headers a replayed copy must not carry: RabbitMQ's own dead-letter history and our park marks. */
const DROPPED_ON_REPLAY = [...DEATH_HEADERS, PARK_REASON_HEADER, PARKED_AT_HEADER, PARKED_FROM_HEADER];

const text = headerText;

export function describeDeadLetter(msg: GetMessage): DeadLetter {
  const headers: MessagePropertyHeaders = msg.properties.headers ?? {};
  const body = parseJsonObject(msg.content);
  const attempts = body && typeof body.attempt === 'number' ? body.attempt : Number(text(headers[ATTEMPT_HEADER]));
  // x-death lists the most recent death first.
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as unknown as Record<string, unknown>[]) : [];
  const first = deaths[deaths.length - 1];
  const firstQueue = text(headers['x-first-death-queue']) ?? text(first?.queue);
  const firstReason = text(headers['x-first-death-reason']) ?? text(first?.reason);
  return {
    messageId: text(msg.properties.messageId),
    // A timeout names its order in the body; an event (a webhook delivery) in its CloudEvents subject.
    orderId:
      body && (typeof body.orderId === 'string' || typeof body.orderId === 'number')
        ? String(body.orderId)
        : text(headers.cloudEvents_subject),
    reason: text(headers[PARK_REASON_HEADER]) ?? firstReason,
    attempts: Number.isInteger(attempts) ? attempts : null,
    parkedAt:
      text(headers[PARKED_AT_HEADER]) ??
      (first?.time
        ? new Date(Number((first.time as { value?: number }).value ?? first.time) * 1000).toISOString()
        : null),
    firstDeath: firstQueue && firstReason ? { queue: firstQueue, reason: firstReason } : null,
    replays: Number(headers[REPLAY_COUNT_HEADER] ?? 0),
    bytes: msg.content.length,
    url: text(headers[URL_HEADER]),
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

/**
 * The copy that goes back (to `order.timeout`, or a webhook's URL queue: see replay-routes.ts): attempts reset,
 * replay recorded, dead-letter history and park marks dropped.
 */
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
  return { content: replayRoute(fromQueue).reset(msg.content, headers), headers };
}

export interface ReplayProgress {
  moved: number;
  failed: number;
}

/**
 * Moves `messages` (fetched unacknowledged from `fromQueue` on `channel`) back where that queue's replay route
 * sends them (`order.timeout`, or a webhook URL's queue), a window at a time: every copy is confirmed by the
 * broker before its original is acknowledged, so a replay killed half way leaves each message parked, moved, or
 * at worst both (closing tolerates the duplicate; webhook receivers dedupe on `webhook-id`).
 */
export async function moveBack(
  channel: ConfirmChannel,
  messages: GetMessage[],
  fromQueue: string,
  onProgress: (p: ReplayProgress) => void,
  windowSize = 100,
): Promise<ReplayProgress & { errors: string[]; unmoved: GetMessage[] }> {
  const route = replayRoute(fromQueue);
  const progress = { moved: 0, failed: 0, errors: [] as string[], unmoved: [] as GetMessage[] };
  // Several parked webhook deliveries of one event share its id; the routing key tells their copies apart.
  const returned = new Set<string>();
  const onReturn = (m: { fields: { routingKey: string }; properties: { messageId?: unknown } }) =>
    returned.add(`${String(m.properties.messageId)} ${m.fields.routingKey}`);
  channel.on('return', onReturn);
  try {
    for (let i = 0; i < messages.length; i += windowSize) {
      const window = messages.slice(i, i + windowSize);
      const publishes = window.map((msg, j) => {
        const messageId = msg.properties.messageId ? String(msg.properties.messageId) : `replay-${i + j}-${Date.now()}`;
        const to = route.destination(msg);
        if ('error' in to) return Promise.resolve(`${messageId} ${to.error}`);
        const { content, headers } = replayCopy(msg, fromQueue, new Date());
        return new Promise<string | null>((resolve) => {
          channel.publish(
            to.exchange,
            to.routingKey,
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
                  : returned.has(`${messageId} ${to.routingKey}`)
                    ? `${messageId} unroutable to ${to.exchange || '(default exchange)'} ${to.routingKey}: ${route.unroutableHint}`
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
