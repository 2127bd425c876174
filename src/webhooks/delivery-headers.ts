import type { MessagePropertyHeaders } from 'amqplib';
import { WEBHOOK_QUEUE_PREFIX } from '../messaging/topology';

/** Attempts made so far on a webhook message (absent: none). Replay removes it, so a replay starts afresh. */
export const ATTEMPT_HEADER = 'x-webhook-attempt';
/** When the first attempt started (ISO); retries stop `webhooks.maxAge` after it. Replay removes it too. */
export const FIRST_ATTEMPT_HEADER = 'x-webhook-first-attempt-at';
/** Why the last attempt failed (`HTTP 503`, `no answer within 15000 ms`, `connection failed: …`). */
export const LAST_ERROR_HEADER = 'x-webhook-last-error';
/** The id of the URL a retry or a parked delivery is for: which queue it goes back to. */
export const TARGET_HEADER = 'x-webhook-target';
/** On a parked delivery: the URL (password replaced). */
export const URL_HEADER = 'x-webhook-url';

/** RabbitMQ's dead-letter history, which a message sent on again by the service must not carry. */
export const DEATH_HEADERS = [
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
  'x-delivery-count',
];

/** The headers without RabbitMQ's dead-letter history. */
export function withoutDeathHeaders(headers: MessagePropertyHeaders | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(headers ?? {}) };
  for (const h of DEATH_HEADERS) delete out[h];
  return out;
}

const str = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : undefined);

/** Attempts made so far, from the header (0 when absent or unreadable). */
export function attemptsSoFar(headers: MessagePropertyHeaders | undefined): number {
  const n = Number(str(headers?.[ATTEMPT_HEADER]) ?? headers?.[ATTEMPT_HEADER]);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** When the first attempt started, or undefined before the first attempt. */
export function firstAttemptAt(headers: MessagePropertyHeaders | undefined): Date | undefined {
  const text = str(headers?.[FIRST_ATTEMPT_HEADER]);
  const at = text ? new Date(text) : undefined;
  return at && !Number.isNaN(at.getTime()) ? at : undefined;
}

const URL_QUEUE = new RegExp(`^${WEBHOOK_QUEUE_PREFIX.replace(/\./g, '\\.')}([0-9a-f]+)$`);

/**
 * The URL a webhook message is for: the service's own header, or, for a message RabbitMQ parked itself after the
 * delivery limit, the URL queue it first died in.
 */
export function targetOf(headers: MessagePropertyHeaders | undefined): string | undefined {
  const own = str(headers?.[TARGET_HEADER]);
  if (own) return own;
  const deaths = Array.isArray(headers?.['x-death']) ? (headers['x-death'] as { queue?: unknown }[]) : [];
  const queues = [str(headers?.['x-first-death-queue']), ...deaths.map((d) => str(d.queue))];
  for (const q of queues) {
    const m = q ? URL_QUEUE.exec(q) : null;
    if (m) return m[1];
  }
  return undefined;
}
