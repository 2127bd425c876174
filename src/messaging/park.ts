import type { ConsumeMessage } from 'amqplib';
import type { Publisher } from './publisher';
import { PARKED_QUEUE } from './topology';

/** Headers every parked message carries (docs/api.md, messages on the queues). */
export const PARK_REASON_HEADER = 'x-park-reason';
export const PARKED_AT_HEADER = 'x-parked-at';
export const PARKED_FROM_HEADER = 'x-parked-from';

/** Copies a message into the parked queue with the reason; the caller acks the original after this resolves. */
export async function parkMessage(publisher: Publisher, msg: ConsumeMessage, reason: string, now: Date): Promise<void> {
  const props = msg.properties;
  await publisher.publish('', PARKED_QUEUE, msg.content, {
    messageId: props.messageId ? String(props.messageId) : `parked-${msg.fields.deliveryTag}-${now.getTime()}`,
    contentType: props.contentType ? String(props.contentType) : undefined,
    headers: {
      ...(props.headers ?? {}),
      [PARK_REASON_HEADER]: reason.slice(0, 1000),
      [PARKED_AT_HEADER]: now.toISOString(),
      [PARKED_FROM_HEADER]: msg.fields.routingKey,
    },
  });
}
