import { z } from 'zod';

/** Body of a timeout message on `order.delay.*` and `order.timeout` (contract §5). */
export interface TimeoutMessage {
  orderId: string;
  expiresAt: string;
  attempt: number;
}

const schema = z.object({
  orderId: z.string().regex(/^[1-9]\d{0,18}$/, 'must be a decimal order id'),
  expiresAt: z.string().datetime({ offset: true }),
  attempt: z.number().int().min(0).max(1000),
});

export type ParseResult = { ok: true; message: TimeoutMessage } | { ok: false; reason: string };

/** Reads a message body; a body that is not this shape yields the reason it will be parked with. */
export function parseTimeoutMessage(body: Buffer): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
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
