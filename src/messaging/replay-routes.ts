import type { GetMessage } from 'amqplib';
import {
  ATTEMPT_HEADER,
  FIRST_ATTEMPT_HEADER,
  LAST_ERROR_HEADER,
  targetOf,
  URL_HEADER,
} from '../webhooks/delivery-headers';
import { TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY, WEBHOOK_PARKED_QUEUE, webhookQueueName } from './topology';

/** Where `dead-letters replay` sends the messages of a parked queue, and how it starts their attempts afresh. */
export interface ReplayRoute {
  /** Exchange and routing key of a message's copy, or why it has none. */
  destination(msg: GetMessage): { exchange: string; routingKey: string } | { error: string };
  /** The copy's body and headers with the attempt count reset; `headers` are already free of park marks. */
  reset(content: Buffer, headers: Record<string, unknown>): Buffer;
  /** What to check when a copy is unroutable. */
  unroutableHint: string;
}

/** A JSON object body, or null when the body is not one. */
export function parseJsonObject(content: Buffer): Record<string, unknown> | null {
  try {
    const value = JSON.parse(content.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Timeout messages go back to `order.timeout` with `attempt` 0 (a body the closer cannot read goes as it is). */
const TIMEOUT_ROUTE: ReplayRoute = {
  destination: () => ({ exchange: TIMEOUT_EXCHANGE, routingKey: TIMEOUT_ROUTING_KEY }),
  reset(content) {
    const body = parseJsonObject(content);
    return body && typeof body.attempt === 'number' ? Buffer.from(JSON.stringify({ ...body, attempt: 0 })) : content;
  },
  unroutableHint: `is ${TIMEOUT_EXCHANGE} bound? (order-timeout topology check)`,
};

/** Webhook deliveries go back to their URL's queue, with no attempts made and a fresh `webhooks.maxAge`. */
const WEBHOOK_ROUTE: ReplayRoute = {
  destination(msg) {
    const target = targetOf(msg.properties.headers);
    return target
      ? { exchange: '', routingKey: webhookQueueName(target) }
      : { error: 'names no webhook URL (no x-webhook-target header)' };
  },
  reset(content, headers) {
    for (const h of [ATTEMPT_HEADER, FIRST_ATTEMPT_HEADER, LAST_ERROR_HEADER, URL_HEADER]) delete headers[h];
    return content;
  },
  unroutableHint: 'is its URL still in WEBHOOK_URLS, and has the service started with it?',
};

/** The route of each parked queue; any other queue replays as timeouts. */
const ROUTES: Readonly<Record<string, ReplayRoute>> = { [WEBHOOK_PARKED_QUEUE]: WEBHOOK_ROUTE };

export const replayRoute = (fromQueue: string): ReplayRoute => ROUTES[fromQueue] ?? TIMEOUT_ROUTE;
