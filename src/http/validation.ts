import type { RequestHandler } from 'express';
// zod 4 (shipped inside zod 3.25 as `zod/v4`): its toJSONSchema publishes these same schemas in GET /openapi.json.
import { z } from 'zod/v4';
import { AppError } from '../errors';
import { PAYMENT_STATUSES } from '../db/payments-repo';
import {
  notASince,
  parseSince,
  SINCE_DURATION,
  SINCE_ISO,
  STATS_DIMENSIONS,
  type StatsDimension,
} from '../domain/timeout-stats';

/** A database id: a positive integer of at most 19 digits. */
const ID_PATTERN = /^[1-9]\d{0,18}$/;

// One message for both branches: zod 4 would otherwise report a failed union as a bare "Invalid input".
const id = z
  .union([z.string().regex(ID_PATTERN), z.number().int().positive().max(Number.MAX_SAFE_INTEGER)], {
    error: 'must be a positive integer id',
  })
  .transform(String);
const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const productBody = z.object({
  sku: text(64).describe('Stock-keeping unit, unique across products; blanks around it are dropped.'),
  name: text(255),
  category: text(64).describe('Decides the payment window of orders for this product (ORDER_PAYMENT_TIMEOUTS).'),
  priceCents: z.number().int().min(0).max(1_000_000_000).describe('Unit price in cents.'),
  stock: z.number().int().min(0).max(1_000_000_000).describe('Units available to new orders.'),
});

const cents = z.number().int().min(0).max(1_000_000_000);
const count = z.number().int().min(1).max(1_000_000_000);
/** An ISO-8601 date-time with an offset (`Z` or `+01:00`), within what DATETIME(3) holds. */
const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO-8601 date-time with an offset, e.g. 2026-11-21T20:00:00Z' })
  // zod 4 runs this even when the format check failed (that issue is reported already): only the year is added.
  .transform((value, ctx) => {
    const d = new Date(value);
    const year = d.getUTCFullYear();
    if (Number.isNaN(year) || (year >= 1970 && year <= 9999)) return d;
    ctx.issues.push({ code: 'custom', message: 'must be between 1970 and 9999', input: value });
    return z.NEVER;
  });

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

/** A short token naming a group for stats: a region or a customer tier. */
export const dimensionToken = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/,
    'must be 1 to 32 letters, digits, _ . or -, starting with a letter or digit',
  );

export const orderBody = z.object({
  customerId: text(64),
  region: dimensionToken
    .optional()
    .describe('Where the order is placed, for GET /stats/timeouts?by=region. Default `unknown`.'),
  customerTier: dimensionToken
    .optional()
    .describe("The customer's tier, for GET /stats/timeouts?by=tier. Default `standard`."),
  couponId: id.optional(),
  pointsToRedeem: z.number().int().min(0).max(1_000_000_000).optional(),
  items: z
    .array(
      z.object({
        productId: id.describe('A product id, as a string of digits or as a number.'),
        quantity: z.number().int().min(1).max(10_000),
      }),
    )
    .min(1, 'an order needs at least one item')
    .max(100, 'an order has at most 100 items')
    .refine(
      (items) => new Set(items.map((i) => i.productId)).size === items.length,
      'each productId may appear once; add up the quantities',
    )
    .describe('What the order takes from stock, all or nothing; each productId at most once.'),
});

export const payBody = z.object({
  paymentRef: text(128).describe("The payment provider's reference; paying again with the same one is a no-op."),
  amountCents: z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000_000)
    .describe("What the provider took: must be the order's totalCents."),
});

const durationText = z
  .string()
  .max(32, 'must be at most 32 characters')
  .describe('A duration: a number and a unit (ms, s, m, h, d), e.g. `15m`.');
const durationsByCategory = z.record(
  z.string().min(1, 'a category must not be empty').max(64, 'a category is at most 64 characters'),
  durationText,
);

/** The body of `PUT /admin/policy`: the whole timer policy (reminders, when absent, stay as they are). */
export const policyBody = z.strictObject({
  paymentWindows: durationsByCategory.describe(
    'Payment window per product category; `default` (required) for categories not listed. At most 30d.',
  ),
  paymentReminders: durationsByCategory
    .optional()
    .describe(
      'Time before the deadline at which a pending order is reminded, per category; a category not listed (and ' +
        'no `default`) gets no reminder. Each shorter than the window of its category. Absent: the reminders in ' +
        'force stay; `{}` turns them off.',
    ),
  autoCompleteAfter: durationText.describe('How long after shipping an order completes by itself. At most 365d.'),
});

/** `X-Actor` of `PUT /admin/policy`: who makes the change, kept in the history. */
export const actorHeader = z
  .string()
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/, 'X-Actor must be 1 to 128 visible ASCII characters')
  .describe('Who makes the change, kept in the history (default `admin-api`).');

/** `?limit=` of GET /admin/policy/history. */
export const historyQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('At most this many versions, newest first.'),
});

/** `?by=` of GET /stats/timeouts. */
export const byParam = z
  .enum(STATS_DIMENSIONS, { error: `by must be one of ${STATS_DIMENSIONS.join(', ')}` })
  .describe('What the orders are grouped by (default `category`).');

/** `?status=` and `?limit=` of GET /payments: one of the payment statuses, or absent for all. */
export const paymentsQuery = z.strictObject({
  status: z.enum(PAYMENT_STATUSES).optional().describe('Only payments of this status; absent: all.'),
  limit: z.coerce.number().int().min(1).max(1000).default(1000).describe('At most this many, oldest first.'),
});

/** A path id (`/orders/{id}`, `/products/{id}`); one that cannot exist is simply not found (404), never a 400. */
export const pathIdParam = z.string().regex(ID_PATTERN);

/** `Idempotency-Key` of `POST /orders`; a malformed one is a 400. */
export const idempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1 to 255 visible ASCII characters')
  .describe(
    'Same key and same body: the first response again (header Idempotent-Replayed: true), still one order. ' +
      'Same key and another body: 422.',
  );

/** `?since=` of `GET /stats/timeouts` (blanks around it are ignored); parseSince also checks that the date exists. */
export const sinceParam = z
  .union([z.string().regex(SINCE_DURATION), z.string().regex(SINCE_ISO)], {
    error: (issue) => notASince(String(issue.input)),
  })
  .describe(
    'Start of the period: an ISO-8601 date or date-time (without an offset: UTC), or a duration back from now ' +
      '(units ms, s, m, h, d). Default 24h.',
  );

/** A customer id in a path (`/customers/{customerId}/...`): what `customerId` in a body may be. */
export const customerIdParam = z
  .string()
  .min(1)
  .max(64)
  .regex(/^\S(?:[\s\S]*\S)?$/);

/** Parses a request body (or query) or throws a 400 that lists every problem with its path. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what = 'request body'): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
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
    // The schema checks the form; parseSince also that the date exists (no 2026-02-30).
    if (!sinceParam.safeParse(value.trim()).success) throw new Error(notASince(value));
    return parseSince(value, now);
  } catch (err) {
    throw new AppError(400, 'bad-request', 'Bad since', (err as Error).message, {
      errors: [{ path: 'since', message: (err as Error).message }],
    });
  }
}

/** `?by=`: category (default), region or tier; 400 otherwise (also when given twice). */
export function byQuery(value: unknown): StatsDimension {
  if (value === undefined) return 'category';
  const checked = byParam.safeParse(value);
  if (checked.success) return checked.data;
  const message = `by must be one of ${STATS_DIMENSIONS.join(', ')}`;
  throw new AppError(400, 'bad-request', 'Bad by', message, { errors: [{ path: 'by', message }] });
}

/** A customer id in a path: what `customerId` in a body may be (1 to 64 characters, no edge spaces), else 404. */
export function customerPath(value: unknown): string {
  const text = String(value);
  if (!customerIdParam.safeParse(text).success)
    throw new AppError(404, 'not-found', 'Not found', `customer ${text.slice(0, 40)} does not exist`);
  return text;
}

/** A path id that cannot exist is simply not found. */
export function pathId(value: unknown, what: string): string {
  const text = String(value);
  if (!pathIdParam.safeParse(text).success)
    throw new AppError(404, 'not-found', 'Not found', `${what} ${text.slice(0, 40)} does not exist`);
  return text;
}

/** The `Idempotency-Key` header when one is given; 400 when it is malformed. */
export function idempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const checked = idempotencyKeyHeader.safeParse(value);
  if (checked.success) return checked.data;
  throw new AppError(400, 'bad-request', 'Bad Idempotency-Key', checked.error.issues[0]!.message);
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
