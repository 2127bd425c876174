import { z } from 'zod/v4';
import { COUPON_STATUSES } from '../db/coupons-repo';
import { PAYMENT_STATUSES } from '../db/payments-repo';
import { EVENT_SOURCES, ORDER_EVENTS, ORDER_STATUSES } from '../domain/order-lifecycle';
import { POLICY_SOURCES } from '../domain/policy';
import { STATS_DIMENSIONS } from '../domain/timeout-stats';
import type { ProblemType } from '../errors';
import { problemUri } from './problem';

// What the API answers, as zod schemas: GET /openapi.json publishes them, the conformance test holds real responses
// to them, and the code that builds each body is typed by them (toOrderJson returns an OrderJson).

const idString = z.string().regex(/^[1-9]\d{0,18}$/);
/** A time as the API writes it (Date#toISOString): ISO-8601 UTC with milliseconds (docs/api.md). */
const instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  // zod copies metadata into the JSON Schema; z.iso.datetime() would also, but with a 300-character pattern.
  .meta({ format: 'date-time' });
const count = z.number().int().min(0);
const status = z.enum(ORDER_STATUSES);

export const productJson = z.object({
  id: idString,
  sku: z.string(),
  name: z.string(),
  category: z.string(),
  priceCents: count.describe('Unit price in cents.'),
  stock: count.describe('Units available to new orders.'),
});
/** A product as `POST /products` and `GET /products/{id}` answer it. */
export type ProductJson = z.output<typeof productJson>;

export const orderItemJson = z.object({
  productId: idString,
  quantity: z.number().int().min(1),
  unitPriceCents: count.describe('The unit price when the order was created.'),
});

export const orderJson = z.object({
  id: idString,
  customerId: z.string(),
  status,
  category: z.string().describe('The product category whose payment window the order got (the shortest).'),
  items: z.array(orderItemJson),
  totalCents: count.describe('Items at the prices they sold at, less discountCents; never below 0.'),
  couponId: idString.nullable().describe('The coupon the order used, if any.'),
  pointsRedeemed: count.describe('Points redeemed, one cent each.'),
  discountCents: count.describe('Coupon discount plus points redeemed.'),
  paymentRef: z.string().nullable().describe('Set once the order is paid.'),
  expiresAt: instant.describe('End of the payment window; a PENDING_PAYMENT order past it is closed.'),
  createdAt: instant,
  paidAt: instant.nullable(),
  closedAt: instant.nullable().describe('When it was CLOSED (timeout) or CANCELLED.'),
  shippedAt: instant.nullable(),
  completedAt: instant.nullable(),
  completeAt: instant
    .nullable()
    .describe('When a SHIPPED order completes by itself (AUTO_COMPLETE_AFTER after shipping); null before it ships.'),
  region: z.string().describe('Where the order was placed; `unknown` when not given.'),
  customerTier: z.string().describe("The customer's tier; `standard` when not given."),
});
/** An order as the API shows it. */
export type OrderJson = z.output<typeof orderJson>;

export const orderEventJson = z.object({
  event: z
    .enum([...ORDER_EVENTS, 'create'])
    .describe('The transition; `remind`: the payment reminder was sent (`order.expiring`), the order stayed pending.'),
  from: status.nullable().describe('null for `create`.'),
  to: status,
  source: z.enum(EVENT_SOURCES).describe('Who caused it: the API, the timeout consumer, the sweeper, a read, the CLI.'),
  at: instant,
});
/** One entry of `GET /orders/{id}/events`. */
export type OrderEventJson = z.output<typeof orderEventJson>;
export const orderEventsJson = z.array(orderEventJson).describe('The transitions of the order, oldest first.');

const latenessJson = z
  .object({
    p50: z.number().nullable(),
    p99: z.number().nullable(),
    max: z.number().nullable().describe('Over every closed order, not only the sample.'),
    samples: count.describe('How many closed orders p50 and p99 are computed from.'),
  })
  .describe('How long after their deadline orders were closed, in ms; null when none was.');
const outcomeCounts = {
  created: count,
  paid: count.describe('Now PAID, SHIPPED or COMPLETED.'),
  closedByTimeout: count,
  cancelled: count,
  pending: count,
  timeoutRate: z.number().min(0).max(1).describe('closedByTimeout / created; 0 when nothing was created.'),
  latenessMs: latenessJson,
};
export const timeoutStatsJson = z.object({
  since: instant.describe('Start of the period: orders created at or after it count.'),
  until: instant.describe('When the figures were taken.'),
  by: z.enum(STATS_DIMENSIONS).describe('What the orders are grouped by.'),
  groups: z
    .array(z.object({ group: z.string().describe('The category, region or tier.'), ...outcomeCounts }))
    .describe('Highest timeout rate first, then more orders first, then by name.'),
  categories: z
    .array(z.object({ category: z.string(), ...outcomeCounts }))
    .optional()
    .describe('With by=category only: the groups again, each named `category` (as before `by` existed).'),
  totals: z.object(outcomeCounts),
});
/** The body of `GET /stats/timeouts`. */
export type TimeoutStatsJson = z.output<typeof timeoutStatsJson>;

const durationsJson = z.record(z.string(), z.string().describe('A duration, e.g. `15m`.'));
export const policyJson = z.object({
  version: z.number().int().min(1).describe('Version number; the highest is in force.'),
  paymentWindows: durationsJson.describe('Payment window per product category; `default` for the others.'),
  paymentReminders: durationsJson.describe('Time before the deadline of the payment reminder, per category.'),
  autoCompleteAfter: z.string().describe('How long after shipping an order completes by itself.'),
  changedAt: instant,
  changedBy: z.string().describe('`X-Actor` of the change, the CLI user, or `environment` for version 1.'),
  via: z.enum(POLICY_SOURCES).describe('`seed`: from the environment (version 1); `http`: the admin API; `cli`.'),
});
/** A policy version as the admin API shows it. */
export type PolicyJson = z.output<typeof policyJson>;
export const policyHistoryJson = z.array(policyJson).describe('Every version, newest first.');

export const couponJson = z.object({
  id: idString,
  customerId: z.string().describe('The only customer who can use it.'),
  discountCents: z.number().int().min(1),
  minTotalCents: count.describe('The items of the order must come to at least this.'),
  expiresAt: instant,
  status: z.enum(COUPON_STATUSES).describe('HELD by a pending order, USED by a paid one.'),
  orderId: idString.nullable().describe('The order holding or having used it.'),
});
/** A coupon as the API shows it. */
export type CouponJson = z.output<typeof couponJson>;
export const couponsJson = z.array(couponJson).describe("A customer's coupons.");

export const promotionJson = z.object({
  id: idString,
  productId: idString,
  priceCents: count.describe('The unit price while the promotion is active.'),
  quota: z.number().int().min(1).describe('Units sold at this price, over all customers.'),
  perCustomerLimit: z.number().int().min(1),
  startsAt: instant,
  endsAt: instant,
  sold: count.describe('Units held by pending orders or sold.'),
});
/** A promotion as the API shows it. */
export type PromotionJson = z.output<typeof promotionJson>;

export const pointsJson = z.object({
  customerId: z.string(),
  balance: count.describe('Points the customer can redeem now.'),
  held: count.describe('Points redeemed by pending orders.'),
});

export const paymentJson = z.object({
  paymentRef: z.string(),
  orderId: idString,
  amountCents: count,
  status: z.enum(PAYMENT_STATUSES),
  reason: z
    .enum(['order-cancelled', 'already-paid', 'late-payment', 'holds-unavailable'])
    .nullable()
    .describe('Why the payment must be refunded (null when CAPTURED).'),
  receivedAt: instant,
  refundedAt: instant.nullable(),
});
/** A payment as `GET /payments` lists it. */
export type PaymentJson = z.output<typeof paymentJson>;
export const paymentsJson = z.array(paymentJson).describe('Payments, oldest first.');

export const refundRequiredJson = z.object({
  orderId: idString,
  paymentRef: z.string(),
  status: z.literal('REFUND_REQUIRED'),
});

export const healthJson = z.object({ status: z.literal('ok') });
export const readinessJson = z.object({
  status: z.enum(['ready', 'not ready']),
  down: z.array(z.string()).describe('The dependencies that cannot be reached (empty when ready).'),
});

/** The OpenAPI document itself, as far as a client needs to know before reading it. */
export const openApiJson = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/** An RFC 9457 problem of one `type`, with the members that type adds. */
function problem(type: ProblemType, description: string, extra: z.core.$ZodLooseShape = {}) {
  return z
    .object({
      type: z.literal(problemUri(type)),
      title: z.string().min(1),
      status: z.number().int().min(400).max(599).describe('The HTTP status.'),
      detail: z.string().min(1),
      ...extra,
    })
    .describe(description);
}

const orderStatus = status.describe('The state the order is in, which forbids the request.');
/** Every problem the API answers, by type; 'not-ready' is declared in ProblemType but nothing raises it. */
export const problemJson = {
  'bad-request': problem(
    'bad-request',
    'The request is malformed: body, JSON syntax, path encoding, `since` or `Idempotency-Key`.',
    {
      errors: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .describe('Each invalid field with its dotted path ("(body)" for the body as a whole).'),
    },
  ),
  'not-found': problem('not-found', 'The order, product, coupon, promotion or customer does not exist.', {
    productIds: z.array(z.string()).optional().describe('POST /orders: the products that do not exist.'),
  }),
  'duplicate-sku': problem('duplicate-sku', 'A product with this sku already exists.'),
  'insufficient-stock': problem('insufficient-stock', 'Not enough stock for some items; nothing was taken.', {
    shortages: z.array(z.object({ productId: idString, requested: count, available: count })),
  }),
  'illegal-transition': problem('illegal-transition', 'The order is in a state that forbids this event.', {
    orderStatus,
    event: z.enum(ORDER_EVENTS),
  }),
  'payment-window-ended': problem('payment-window-ended', 'The order passed its deadline and is closed.', {
    orderStatus,
  }),
  'payment-ref-mismatch': problem(
    'payment-ref-mismatch',
    'The paymentRef was already used for another order or amount.',
    { orderId: idString.describe('The order the paymentRef was used for.') },
  ),
  'coupon-unavailable': problem(
    'coupon-unavailable',
    "The coupon is another customer's, held, used, expired, or the items come to less than its minimum.",
    { couponId: idString },
  ),
  'promotion-sold-out': problem('promotion-sold-out', 'The promotion has fewer units left than asked.', {
    promotionId: idString.optional(),
    productId: idString.optional(),
    requested: count.optional(),
    available: count.optional(),
    promotionIds: z.array(z.string()).optional().describe('When it sold out while the order was being taken.'),
  }),
  'promotion-limit': problem('promotion-limit', 'The customer would buy more than perCustomerLimit units.', {
    promotionId: idString.optional(),
    productId: idString.optional(),
    requested: count.optional(),
    limit: count.optional(),
    alreadyHeld: count.optional(),
    promotionIds: z.array(z.string()).optional().describe('When the limit was reached while the order was taken.'),
  }),
  'points-insufficient': problem('points-insufficient', 'The customer has fewer points than asked.', {
    balance: count.optional(),
    requested: count.optional(),
  }),
  'amount-mismatch': problem('amount-mismatch', "The payment's amountCents is not the order's totalCents.", {
    totalCents: count,
    amountCents: count,
  }),
  'invalid-signature': problem('invalid-signature', 'X-Signature is missing or does not match the body.'),
  'idempotency-key-reused': problem(
    'idempotency-key-reused',
    '422: the key was used with another body. 409: a request with the key is still in progress; retry.',
  ),
  'payload-too-large': problem(
    'payload-too-large',
    'The body is larger than the limit (config http.bodyLimit, 100 kB by default).',
  ),
  'unsupported-media-type': problem(
    'unsupported-media-type',
    'The body is not application/json (or its charset or encoding is unsupported).',
  ),
  overloaded: problem(
    'overloaded',
    'Too many requests in progress, or no database connection free in time; nothing was done. Retry after Retry-After.',
    { retryAfterSeconds: count.describe('The Retry-After delay, in seconds.') },
  ),
  unauthorized: problem(
    'unauthorized',
    'The admin routes need Authorization: Bearer <ADMIN_TOKEN>; it is missing or wrong, or no token is configured.',
  ),
  'invalid-policy': problem(
    'invalid-policy',
    'A duration is malformed or longer than the largest supported, `default` is missing, or a reminder is not ' +
      'shorter than its window.',
    { errors: z.array(z.object({ path: z.string(), message: z.string() })).describe('Each problem with its path.') },
  ),
  internal: problem('internal', 'The request could not be completed; the service logged why.'),
} satisfies Record<Exclude<ProblemType, 'not-ready'>, z.ZodType>;
/** A problem type the API answers with. */
export type AnsweredProblem = keyof typeof problemJson;
