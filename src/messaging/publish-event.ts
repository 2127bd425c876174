import { cloudEventHeaders, EVENTS_EXCHANGE } from '../domain/order-event-types';
import type { OutboxMessage } from '../db/outbox-repo';
import type { Publisher } from './publisher';

/**
 * Publishes an order event row as a CloudEvents 1.0 AMQP binary-mode message (contract §9): the order JSON as the
 * body, the attributes as `cloudEvents_*` headers, `message_id` = `cloudEvents_id` (the row's, so every retry of the
 * row carries the same one). Not mandatory: a type nobody binds a queue for is simply not delivered.
 */
export async function publishEvent(publisher: Publisher, row: OutboxMessage): Promise<string> {
  if (row.orderId === null || row.sequence === null) throw new Error(`event row ${row.id} has no order or sequence`);
  const headers = cloudEventHeaders({
    id: row.messageId,
    kind: row.kind,
    orderId: row.orderId,
    time: row.createdAt,
    sequence: row.sequence,
  });
  await publisher.publish(EVENTS_EXCHANGE, row.kind, Buffer.from(row.payload), {
    messageId: row.messageId,
    headers,
    contentType: 'application/json',
    mandatory: false,
    timestamp: row.createdAt,
  });
  return `${EVENTS_EXCHANGE} ${row.kind}`;
}
