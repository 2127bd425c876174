import type { ConsumeMessage } from 'amqplib';
import type { Publisher } from './publisher';
import { PARKED_QUEUE } from './topology';

/** Headers every parked message carries (docs/api.md, messages on the queues). */
export const PARK_REASON_HEADER = 'x-park-reason';
export const PARKED_AT_HEADER = 'x-parked-at';
export const PARKED_FROM_HEADER = 'x-parked-from';

/** Where a message is parked and what else it is marked with; by default the closer's parked queue. */
export interface ParkInto {
  queue: string;
  /** Recorded as `x-parked-from` (default: the routing key the message arrived with). */
  from?: string;
  headers?: Record<string, unknown>;
}

/** Copies a message into a parked queue with the reason; the caller acks the original after this resolves. */
export async function parkMessage(
  publisher: Publisher,
  msg: ConsumeMessage,
  reason: string,
  now: Date,
  into: ParkInto = { queue: PARKED_QUEUE },
): Promise<void> {
  const props = msg.properties;
  await publisher.publish('', into.queue, msg.content, {
    messageId: props.messageId ? String(props.messageId) : `parked-${msg.fields.deliveryTag}-${now.getTime()}`,
    contentType: props.contentType ? String(props.contentType) : undefined,
    headers: {
      ...(props.headers ?? {}),
      ...into.headers,
      [PARK_REASON_HEADER]: reason.slice(0, 1000),
      [PARKED_AT_HEADER]: now.toISOString(),
      [PARKED_FROM_HEADER]: into.from ?? msg.fields.routingKey,
    },
  });
}
