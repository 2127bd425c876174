import type { OrderEvent } from './order-lifecycle';

/**
 * What other systems hear about an order (contract §9): one event type per committed transition, plus a payment
 * stored for a refund. Each is published to the topic exchange `order.events` with routing key and CloudEvents
 * type `order.<type>`. Adding a type is one row here; whatever writes it names the type, never a branch.
 */
export const ORDER_EVENT_TYPES = [
  {
    type: 'created',
    trigger: 'create',
    describes: 'an order was created (PENDING_PAYMENT); everything it holds is taken',
  },
  { type: 'paid', trigger: 'pay', describes: 'a pending order was paid before its deadline (PAID)' },
  {
    type: 'cancelled',
    trigger: 'cancel',
    describes: 'the buyer cancelled a pending order (CANCELLED); holds given back',
  },
  { type: 'closed', trigger: 'timeout', describes: 'the payment window ran out (CLOSED); holds given back' },
  { type: 'shipped', trigger: 'ship', describes: 'a paid order was shipped (SHIPPED)' },
  { type: 'completed', trigger: 'complete', describes: 'a shipped order was completed (COMPLETED)' },
  {
    type: 'revived',
    trigger: 'revive',
    describes: 'a late payment took everything back and paid a closed order (PAID)',
  },
  {
    type: 'refund_required',
    trigger: 'refund',
    describes: 'a payment the order could not take was stored REFUND_REQUIRED; the order did not change',
  },
  {
    type: 'expiring',
    trigger: 'remind',
    describes:
      'the payment reminder: a pending order reaches its deadline less PAYMENT_REMINDERS; once, never after it',
  },
] as const satisfies readonly { type: string; trigger: OrderEvent | 'create' | 'refund'; describes: string }[];

export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number]['type'];
export type EventTrigger = (typeof ORDER_EVENT_TYPES)[number]['trigger'];

/** The topic exchange every order event goes to. */
export const EVENTS_EXCHANGE = 'order.events';
/** `cloudEvents_source` of every event. */
export const EVENT_SOURCE = 'order-timeout';
/** Prefix of the routing key and the CloudEvents type. */
const PREFIX = 'order.';

/** `order.<type>`: the routing key, the CloudEvents type and the outbox row's kind. */
export const eventKind = (type: OrderEventType): string => `${PREFIX}${type}`;

/** Every `order.<type>`, for validating what a user asks for (e.g. `events tail --type`). */
export const EVENT_KINDS: readonly string[] = ORDER_EVENT_TYPES.map((t) => eventKind(t.type));

/** The event type a trigger (a transition's event, `create` or `refund`) publishes. */
export function eventTypeFor(trigger: EventTrigger): OrderEventType {
  const found = ORDER_EVENT_TYPES.find((t) => t.trigger === trigger);
  if (!found) throw new Error(`no event type for ${trigger}`);
  return found.type;
}

/** Digits of `cloudEvents_sequence`: zero-padded so it orders as a string too (the CloudEvents sequence extension). */
const SEQUENCE_DIGITS = 10;

export const formatSequence = (sequence: number): string => String(sequence).padStart(SEQUENCE_DIGITS, '0');

/** What an event message carries beyond its body. */
export interface EventEnvelope {
  /** `cloudEvents_id` and the AMQP `message_id`: written once with the row, the same on every retry. */
  id: string;
  /** `order.<type>`. */
  kind: string;
  orderId: string;
  /** When the transition committed (its transaction's clock). */
  time: Date;
  /** The event's place among its order's events: 1 for `created`, then 2, 3… with no gaps. */
  sequence: number;
}

/** The AMQP application headers of CloudEvents 1.0 binary mode (contract §9), plus the sequence extension. */
export function cloudEventHeaders(e: EventEnvelope): Record<string, string> {
  return {
    cloudEvents_specversion: '1.0',
    cloudEvents_id: e.id,
    cloudEvents_source: EVENT_SOURCE,
    cloudEvents_type: e.kind,
    cloudEvents_subject: e.orderId,
    cloudEvents_time: e.time.toISOString(),
    cloudEvents_sequence: formatSequence(e.sequence),
  };
}
