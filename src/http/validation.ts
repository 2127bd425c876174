import type { RequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from '../errors';
import { PAYMENT_STATUSES } from '../db/payments-repo';
import { parseSince } from '../domain/timeout-stats';

const id = z
  .union([
    z.string().regex(/^[1-9]\d{0,18}$/, 'must be a positive integer id'),
    z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  ])
  .transform(String);
const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const productBody = z.object({
  sku: text(64),
  name: text(255),
  category: text(64),
  priceCents: z.number().int().min(0).max(1_000_000_000),
  stock: z.number().int().min(0).max(1_000_000_000),
});

const cents = z.number().int().min(0).max(1_000_000_000);
const count = z.number().int().min(1).max(1_000_000_000);
/** An ISO-8601 date-time with an offset (`Z` or `+01:00`), within what DATETIME(3) holds. */
const instant = z
  .string()
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset, e.g. 2026-11-21T20:00:00Z' })
  .transform((value) => new Date(value))
  .refine((d) => d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999, 'must be between 1970 and 9999');

export const couponBody = z.object({
  customerId: text(64),
  discountCents: count,
  minTotalCents: cents,
  expiresAt: instant,
});

export const promotionBody = z
  .object({
    productId: id,
    priceCents: cents,
    quota: count,
    perCustomerLimit: count,
    startsAt: instant,
    endsAt: instant,
  })
  .refine((p) => p.endsAt.getTime() > p.startsAt.getTime(), { message: 'must be after startsAt', path: ['endsAt'] });

export const pointsBody = z.object({
  delta: z
    .number()
    .int()
    .min(-1_000_000_000)
    .max(1_000_000_000)
    .refine((d) => d !== 0, 'must not be 0: a grant is > 0, a take < 0'),
  reason: text(255),
});

export const orderBody = z.object({
  customerId: text(64),
  couponId: id.optional(),
  pointsToRedeem: z.number().int().min(0).max(1_000_000_000).optional(),
  items: z
    .array(z.object({ productId: id, quantity: z.number().int().min(1).max(10_000) }))
    .min(1, 'an order needs at least one item')
    .max(100, 'an order has at most 100 items')
    .refine(
      (items) => new Set(items.map((i) => i.productId)).size === items.length,
      'each productId may appear once; add up the quantities',
    ),
});

export const payBody = z.object({
  paymentRef: text(128),
  /** What the provider took: must be the order's totalCents. */
  amountCents: z.number().int().min(0).max(1_000_000_000_000),
});

/** `?status=` of GET /payments: one of the payment statuses, or absent for all. */
export const paymentsQuery = z
  .object({
    status: z.enum(PAYMENT_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(1000),
  })
  .strict();

/** Parses a request body (or query) or throws a 400 that lists every problem with its path. */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown, what = 'request body'): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data as z.infer<T>;
  const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
  throw new AppError(400, 'bad-request', `Invalid ${what}`, errors.map((e) => `${e.path}: ${e.message}`).join('; '), {
    errors,
  });
}

/** Default period of GET /stats/timeouts. */
export const DEFAULT_STATS_SINCE = '24h';

/** `?since=`: an ISO-8601 date-time or a duration back from `now` (default 24 h); 400 otherwise. */
export function sinceQuery(value: unknown, now: Date): Date {
  if (value === undefined) return parseSince(DEFAULT_STATS_SINCE, now);
  if (typeof value !== 'string')
    throw new AppError(
      400,
      'bad-request',
      'Bad since',
      'give since once, as an ISO-8601 date-time or a duration such as 24h',
    );
  try {
    return parseSince(value, now);
  } catch (err) {
    throw new AppError(400, 'bad-request', 'Bad since', (err as Error).message, {
      errors: [{ path: 'since', message: (err as Error).message }],
    });
  }
}

const ID_PATTERN = /^[1-9]\d{0,18}$/;

/** A customer id in a path: what `customerId` in a body may be (1 to 64 characters, no edge spaces), else 404. */
export function customerPath(value: unknown): string {
  const text = String(value);
  if (text.length === 0 || text.length > 64 || text.trim() !== text)
    throw new AppError(404, 'not-found', 'Not found', `customer ${text.slice(0, 40)} does not exist`);
  return text;
}

/** A path id that cannot exist is simply not found. */
export function pathId(value: unknown, what: string): string {
  const text = String(value);
  if (!ID_PATTERN.test(text))
    throw new AppError(404, 'not-found', 'Not found', `${what} ${text.slice(0, 40)} does not exist`);
  return text;
}

const hasBody = (headers: Record<string, unknown>) =>
  headers['transfer-encoding'] !== undefined ||
  (headers['content-length'] !== undefined && headers['content-length'] !== '0');

/** 415 for a body that is not JSON; with `required`, a missing body is a 400 (or 415 when its type is wrong). */
export function jsonOnly(required: boolean): RequestHandler {
  return (req, _res, next) => {
    const isJson = req.is(['application/json', 'application/*+json']);
    if (hasBody(req.headers) && !isJson) {
      throw new AppError(
        415,
        'unsupported-media-type',
        'Unsupported media type',
        `send the body as application/json (got ${req.headers['content-type'] ?? 'no content type'})`,
      );
    }
    if (required && !hasBody(req.headers)) {
      throw new AppError(400, 'bad-request', 'Missing body', 'this route needs a JSON body');
    }
    next();
  };
}
