import { randomBytes } from 'node:crypto';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { EVENTS_EXCHANGE } from '../../src/domain/order-event-types';
import { eventually } from './scratch';

/** An order event as a consumer received it. */
export interface ReceivedEvent {
  id: string;
  type: string;
  orderId: string;
  sequence: number;
  headers: Record<string, unknown>;
  properties: ConsumeMessage['properties'];
  body: { id: string; status: string; [field: string]: unknown };
  /** When this consumer got it (ms since the epoch). */
  receivedAt: number;
}

/** A consumer of `order.events` on a queue of its own, as another team's service would bind one. */
export interface EventConsumer {
  received: ReceivedEvent[];
  /** Received events of one order, in arrival order. */
  of(orderId: string): ReceivedEvent[];
  /** Waits until `check` holds for what was received. */
  waitFor(check: (received: ReceivedEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function toReceived(msg: ConsumeMessage): ReceivedEvent {
  const headers = msg.properties.headers ?? {};
  return {
    id: String(headers.cloudEvents_id),
    type: String(headers.cloudEvents_type),
    orderId: String(headers.cloudEvents_subject),
    sequence: Number(headers.cloudEvents_sequence),
    headers,
    properties: msg.properties,
    body: JSON.parse(msg.content.toString('utf8')),
    receivedAt: Date.now(),
  };
}

/**
 * Binds a durable-for-the-test queue to `order.events` with `keys` and records every message (acknowledged after
 * it is recorded). The queue is declared before the consumer starts, so nothing published after this resolves is
 * missed.
 */
export async function consumeEvents(url: string, keys: readonly string[] = ['#']): Promise<EventConsumer> {
  const conn: ChannelModel = await amqp.connect(url);
  const channel = await conn.createChannel();
  const queue = `order.events.test.${randomBytes(4).toString('hex')}`;
  await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(queue, { exclusive: true });
  for (const key of keys) await channel.bindQueue(queue, EVENTS_EXCHANGE, key);
  const received: ReceivedEvent[] = [];
  await channel.consume(queue, (msg) => {
    if (!msg) return;
    received.push(toReceived(msg));
    channel.ack(msg);
  });
  return {
    received,
    of: (orderId) => received.filter((e) => e.orderId === orderId),
    waitFor: (check, what, timeoutMs = 15_000) =>
      eventually(async () => check(received), timeoutMs, what).then(() => undefined),
    async close() {
      await conn.close().catch(() => undefined);
    },
  };
}

/** The first copy of each event (by `cloudEvents_id`), as a consumer that dedupes sees them. */
export function firstCopies(received: readonly ReceivedEvent[]): ReceivedEvent[] {
  const seen = new Set<string>();
  return received.filter((e) => !seen.has(e.id) && seen.add(e.id));
}

/** Checks that each order's events (first copies) arrived as sequence 1, 2, 3… with none missing or out of order. */
export function sequenceProblems(firsts: readonly ReceivedEvent[]): string[] {
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const e of firsts) {
    const before = last.get(e.orderId) ?? 0;
    if (e.sequence !== before + 1)
      problems.push(`order ${e.orderId}: ${e.type} #${e.sequence} arrived after #${before}`);
    last.set(e.orderId, e.sequence);
  }
  return problems;
}
