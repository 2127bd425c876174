import { z } from 'zod';
import { TIMER_KIND_NAMES, type TimerKindName } from './timer-kinds';

/** Body of a timer message on `order.delay.*` and `order.timeout` (docs/api.md, messages on the queues). */
export interface TimeoutMessage {
  orderId: string;
  /** When the timer is due: the payment deadline of a payment timeout, the completion time of an auto-complete. */
  expiresAt: string;
  attempt: number;
  /** Which timer (domain/timer-kinds); absent in messages published before timer kinds: a payment timeout. */
  kind: TimerKindName;
}

// Publishers in other languages write what their JSON library writes naturally: Python's pika examples send
// the id as a number and leave `attempt` out. Both mean the same message, so both are accepted; a number is
// taken only while it is an exact (safe) integer, since a larger one has already lost digits.
const DECIMAL_ID = /^[1-9]\d{0,18}$/;
const orderId = z.unknown().transform((value, ctx) => {
  if (typeof value === 'string' && DECIMAL_ID.test(value)) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  ctx.addIssue({
    code: z.ZodIssueCode.custom,
    message:
      typeof value === 'number'
        ? 'must be a positive integer no larger than 2^53-1 (send larger ids as strings)'
        : 'must be a decimal order id',
  });
  return z.NEVER;
});

const schema = z.object({
  orderId,
  expiresAt: z.string().datetime({ offset: true }),
  attempt: z.number().int().min(0).max(1000).default(0),
  kind: z
    .enum(TIMER_KIND_NAMES, { message: `must be one of ${TIMER_KIND_NAMES.join(', ')}` })
    .default('payment-timeout'),
});

const BOM = '\uFEFF';

export type ParseResult = { ok: true; message: TimeoutMessage } | { ok: false; reason: string };

/** Reads a message body; a body that is not this shape yields the reason it will be parked with. */
export function parseTimeoutMessage(body: Buffer): ParseResult {
  let json: unknown;
  try {
    // A UTF-8 byte order mark (some Windows tools and .NET encoders write one) is not part of the JSON.
    const text = body.toString('utf8');
    json = JSON.parse(text.startsWith(BOM) ? text.slice(1) : text);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
    return { ok: false, reason: `${where}: ${issue.message}` };
  }
  return { ok: true, message: result.data };
}

export function encodeTimeoutMessage(message: TimeoutMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

/** The outbox kind of a timeout message. */
export const TIMEOUT_MESSAGE_KIND = 'order.timeout';
