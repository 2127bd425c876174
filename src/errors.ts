/** Stable problem types; the HTTP layer turns them into `urn:order-timeout:problem:<type>`. */
export type ProblemType =
  | 'bad-request'
  | 'not-found'
  | 'duplicate-sku'
  | 'insufficient-stock'
  | 'illegal-transition'
  | 'payment-window-ended'
  | 'payment-ref-mismatch'
  | 'coupon-unavailable'
  | 'promotion-sold-out'
  | 'promotion-limit'
  | 'points-insufficient'
  | 'amount-mismatch'
  | 'invalid-signature'
  | 'idempotency-key-reused'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'not-ready'
  | 'overloaded'
  | 'unauthorized'
  | 'invalid-policy'
  | 'internal';

/** The one error type the application throws on purpose; `status` is the HTTP status it maps to. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: ProblemType,
    readonly title: string,
    readonly detail: string,
    /** Extra members of the problem body, e.g. which products are short. */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

export const notFound = (what: string, id: string) =>
  new AppError(404, 'not-found', 'Not found', `${what} ${id} does not exist`);

/** A 400 naming one field, for a rule a schema cannot check (it depends on the clock), shaped as parseBody's. */
export const badField = (path: string, message: string) =>
  new AppError(400, 'bad-request', 'Invalid request body', `${path}: ${message}`, { errors: [{ path, message }] });
