import { z } from 'zod/v4';
import packageJson from '../../package.json';
import {
  couponJson,
  couponsJson,
  healthJson,
  openApiJson,
  orderEventJson,
  orderEventsJson,
  orderItemJson,
  orderJson,
  paymentsJson,
  pointsJson,
  policyHistoryJson,
  policyJson,
  problemJson,
  productJson,
  promotionJson,
  readinessJson,
  refundRequiredJson,
  timeoutStatsJson,
  type AnsweredProblem,
} from './api-schemas';
import {
  actorHeader,
  byParam,
  couponBody,
  historyQuery,
  customerIdParam,
  idempotencyKeyHeader,
  orderBody,
  pathIdParam,
  payBody,
  paymentsQuery,
  pointsBody,
  policyBody,
  productBody,
  promotionBody,
  sinceParam,
} from './validation';

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = z.core.JSONSchema.BaseSchema;

/** The HTTP methods the API serves. */
export type Method = 'get' | 'post' | 'put';

/** A response header as the document describes it. */
export interface HeaderObject {
  /** What the header carries. */
  description: string;
  /** Whether every response with this status has it. */
  required?: boolean;
  /** What its value looks like. */
  schema: JsonSchema;
}

/** One status of one operation. */
export interface ResponseObject {
  /** What the status means on this route. */
  description: string;
  /** Headers worth knowing, by name. */
  headers?: Record<string, HeaderObject>;
  /** The body by media type (absent: no body). */
  content?: Record<string, { schema: JsonSchema }>;
}

/** A path, query or header parameter. */
export interface ParameterObject {
  /** Its name (`id`, `since`, `Idempotency-Key`). */
  name: string;
  /** Where it goes. */
  in: 'path' | 'query' | 'header';
  /** Whether the request needs it. */
  required: boolean;
  /** What it means. */
  description?: string;
  /** The schema that validates it, from the same zod schema the route uses. */
  schema: JsonSchema;
}

/** One method on one path. */
export interface OperationObject {
  /** A stable name for code generators. */
  operationId: string;
  /** One line for humans. */
  summary: string;
  /** The rules behind it. */
  description?: string;
  /** Which group it is listed under. */
  tags: string[];
  /** Path, query and header parameters. */
  parameters?: ParameterObject[];
  /** The body it reads, if any. */
  requestBody?: { description?: string; required: boolean; content: Record<string, { schema: JsonSchema }> };
  /** Every status it answers with, by status code. */
  responses: Record<string, ResponseObject>;
  /** The security schemes it needs (the admin routes: the bearer token). */
  security?: Record<string, string[]>[];
}

/** The OpenAPI 3.1 document of the API. */
export interface OpenApiDocument {
  /** The OpenAPI version. */
  openapi: '3.1.0';
  /** Title, version and summary of the API. */
  info: { title: string; version: string; description: string };
  /** The groups operations are listed under. */
  tags: { name: string; description: string }[];
  /** Every route, by OpenAPI path template (`/orders/{id}`) and method. */
  paths: Record<string, Partial<Record<Method, OperationObject>>>;
  /** Named schemas the operations refer to with `$ref`, and the security schemes. */
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }>;
  };
}

const SCHEMAS = '#/components/schemas/';

// Request schemas are published as zod reads them (io: input: before transforms, ids as string or number);
// response schemas as the code writes them (io: output: objects without extra members).
const requestComponents = z.registry<{ id: string }>();
requestComponents.add(productBody, { id: 'NewProduct' });
requestComponents.add(orderBody, { id: 'NewOrder' });
requestComponents.add(payBody, { id: 'PaymentNotice' });
requestComponents.add(couponBody, { id: 'NewCoupon' });
requestComponents.add(promotionBody, { id: 'NewPromotion' });
requestComponents.add(pointsBody, { id: 'PointsChange' });
requestComponents.add(policyBody, { id: 'NewPolicy' });

const responseComponents = z.registry<{ id: string }>();
responseComponents.add(productJson, { id: 'Product' });
responseComponents.add(orderJson, { id: 'Order' });
responseComponents.add(orderItemJson, { id: 'OrderItem' });
responseComponents.add(orderEventJson, { id: 'OrderEvent' });
responseComponents.add(orderEventsJson, { id: 'OrderEvents' });
responseComponents.add(timeoutStatsJson, { id: 'TimeoutStats' });
responseComponents.add(couponJson, { id: 'Coupon' });
responseComponents.add(couponsJson, { id: 'Coupons' });
responseComponents.add(promotionJson, { id: 'Promotion' });
responseComponents.add(pointsJson, { id: 'Points' });
responseComponents.add(paymentsJson, { id: 'Payments' });
responseComponents.add(refundRequiredJson, { id: 'RefundRequired' });
responseComponents.add(policyJson, { id: 'Policy' });
responseComponents.add(policyHistoryJson, { id: 'PolicyHistory' });
responseComponents.add(healthJson, { id: 'Health' });
responseComponents.add(readinessJson, { id: 'Readiness' });
responseComponents.add(openApiJson, { id: 'OpenApiDocument' });
const problemName = (type: string) =>
  `${type.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase())}Problem`;
for (const [type, schema] of Object.entries(problemJson)) responseComponents.add(schema, { id: problemName(type) });

/** The components of a registry as JSON Schemas that refer to each other through `#/components/schemas/`. */
function componentSchemas(registry: typeof requestComponents, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'throw',
    cycles: 'throw',
    reused: 'inline',
    uri: (id) => SCHEMAS + id,
  });
  // `__shared` would hold schemas zod extracted on its own, under names nobody chose.
  if ('__shared' in schemas) throw new Error('a component refers to an unnamed shared schema');
  // $schema and $id are zod's stand-alone framing; inside an OpenAPI document they are implied.
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
}

/** A parameter's or header's schema, inline. */
function inlineSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _s, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' });
  if (json.$defs) throw new Error('an inline schema must not need $defs');
  return json;
}

const refTo = (registry: typeof requestComponents, schema: z.ZodType): JsonSchema => {
  const id = registry.get(schema)?.id;
  if (!id) throw new Error('schema is not a named component');
  return { $ref: SCHEMAS + id };
};

/** A response in the table below: a JSON body, problems, plain text or nothing. */
interface ResponseSpec {
  /** What the status means on this route. */
  description: string;
  /** The JSON body: a schema of `responseComponents`. */
  json?: z.ZodType;
  /** The problem types this status comes with on this route. */
  problems?: AnsweredProblem[];
  /** A text/plain body (Prometheus exposition format). */
  text?: boolean;
  /** Headers by name. */
  headers?: Record<string, { description: string; required: boolean; schema: z.ZodType }>;
}

/** A route in the table below. */
interface RouteSpec {
  /** HTTP method. */
  method: Method;
  /** OpenAPI path template. */
  path: string;
  /** See OperationObject. */
  operationId: string;
  /** See OperationObject. */
  tag: 'products' | 'orders' | 'payments' | 'coupons' | 'promotions' | 'points' | 'stats' | 'admin' | 'operations';
  /** See OperationObject. */
  summary: string;
  /** See OperationObject. */
  description?: string;
  /** What `{id}` in the path names, when it has one. */
  pathId?: 'order' | 'product' | 'coupon' | 'promotion';
  /** The path has `{customerId}`. */
  customerId?: boolean;
  /** Query parameters and request headers, with the zod schemas that validate them. */
  parameters?: { name: string; in: 'query' | 'header'; schema: z.ZodType }[];
  /** The JSON body: a schema of `requestComponents`; `null`: a body is not needed and, if sent, ignored. */
  body?: z.ZodType | null;
  /** Every status the route answers with. */
  responses: Record<number, ResponseSpec>;
  /** Needs `Authorization: Bearer <ADMIN_TOKEN>`. */
  admin?: boolean;
}

// Every API route can be shed under load (admission control) or fail unexpectedly.
const internal: Record<number, ResponseSpec> = {
  500: { description: 'Something failed unexpectedly (e.g. the database is unreachable).', problems: ['internal'] },
  503: {
    description: 'Overloaded: turned away before any work was done (nothing changed); retry after `Retry-After`.',
    problems: ['overloaded'],
    headers: {
      'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: z.string() },
    },
  },
};
const badPath: ResponseSpec = {
  description: 'The path is not valid percent-encoding.',
  problems: ['bad-request'],
};
const notFound = (what: string): ResponseSpec => ({
  description: `No ${what} has this id (an id that cannot exist, like \`abc\`, is not found too).`,
  problems: ['not-found'],
});
/** Statuses every route that reads a JSON body can answer with. */
const bodyErrors = (badRequest: string): Record<number, ResponseSpec> => ({
  400: { description: badRequest, problems: ['bad-request'] },
  413: { description: 'The body is larger than the limit.', problems: ['payload-too-large'] },
  415: { description: 'The body is not JSON (Content-Type application/json).', problems: ['unsupported-media-type'] },
});
const location = (what: string) => ({
  Location: {
    description: `Where the new ${what} can be read.`,
    required: true,
    schema: z.string().regex(new RegExp(`^/${what}s/[1-9]\\d{0,18}$`)),
  },
});
/** The 409s of the transitions. */
const conflicts: AnsweredProblem[] = ['illegal-transition', 'payment-window-ended'];
const badCustomer: ResponseSpec = {
  description: 'The customer id cannot be one (empty, over 64 characters, blanks at an edge).',
  problems: ['not-found'],
};

const unauthorized: Record<number, ResponseSpec> = {
  401: {
    description: 'Authorization: Bearer <ADMIN_TOKEN> is missing or wrong, or no ADMIN_TOKEN is configured.',
    problems: ['unauthorized'],
  },
};
const ADMIN_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/admin/policy',
    operationId: 'getPolicy',
    tag: 'admin',
    admin: true,
    summary: 'The timer policy in force: payment windows, payment reminders, auto-complete delay.',
    responses: { 200: { description: 'The newest version.', json: policyJson }, ...unauthorized, ...internal },
  },
  {
    method: 'put',
    path: '/admin/policy',
    operationId: 'setPolicy',
    tag: 'admin',
    admin: true,
    summary: 'Stores a new version of the timer policy, for orders created (and shipped) from now on.',
    description:
      'Every instance applies it within 5 s. Deadlines already set never move. Two changes at once: both are ' +
      'kept in the history, the later one is in force.',
    parameters: [{ name: 'X-Actor', in: 'header', schema: actorHeader }],
    body: policyBody,
    responses: {
      200: { description: 'The version stored, now in force.', json: policyJson },
      ...bodyErrors('The body is missing, not JSON, not an object of the three members, or X-Actor is malformed.'),
      ...unauthorized,
      422: {
        description:
          'A duration is malformed or too long, `default` is missing, or a reminder is not shorter than its window.',
        problems: ['invalid-policy'],
      },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/admin/policy/history',
    operationId: 'getPolicyHistory',
    tag: 'admin',
    admin: true,
    summary: 'Every version of the policy, newest first: who changed it, when, to what.',
    parameters: [{ name: 'limit', in: 'query', schema: historyQuery.shape.limit }],
    responses: {
      200: { description: 'The versions.', json: policyHistoryJson },
      400: { description: 'A limit out of 1..1000, or another parameter.', problems: ['bad-request'] },
      ...unauthorized,
      ...internal,
    },
  },
];

/** Every route the app serves; the route-coverage test checks this list against the express app. */
const ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tag: 'operations',
    summary: 'Liveness: 200 while the process lives.',
    responses: { 200: { description: 'The process is alive.', json: healthJson } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tag: 'operations',
    summary: 'Readiness: 200 when broker and database are reachable.',
    responses: {
      200: { description: 'Broker and database are reachable.', json: readinessJson },
      503: { description: 'A dependency is unreachable, or the service is draining.', json: readinessJson },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tag: 'operations',
    summary: 'Prometheus metrics.',
    responses: { 200: { description: 'Prometheus text exposition format.', text: true } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    tag: 'operations',
    summary: 'This document.',
    responses: { 200: { description: 'The OpenAPI 3.1 description of every route.', json: openApiJson } },
  },
  {
    method: 'post',
    path: '/products',
    operationId: 'createProduct',
    tag: 'products',
    summary: 'Creates a product with its initial stock.',
    body: productBody,
    responses: {
      201: { description: 'The product was created.', json: productJson, headers: location('product') },
      ...bodyErrors('The body is missing, not valid JSON, or a field is invalid (see `errors`).'),
      409: { description: 'A product with this sku already exists.', problems: ['duplicate-sku'] },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/products/{id}',
    operationId: 'getProduct',
    tag: 'products',
    summary: 'Reads a product and its stock available to new orders.',
    pathId: 'product',
    responses: {
      200: { description: 'The product.', json: productJson },
      400: badPath,
      404: notFound('product'),
      ...internal,
    },
  },
  {
    method: 'post',
    path: '/orders',
    operationId: 'createOrder',
    tag: 'orders',
    summary: 'Creates a PENDING_PAYMENT order and takes what it holds: stock, promotion units, coupon, points.',
    description:
      'Every hold or none. An active promotion sets the unit price; the coupon and then the points lower the ' +
      'total (never below 0). The payment window is the shortest of the windows of the categories of its ' +
      'products; when it ends unpaid, the order is CLOSED and everything it held given back.',
    parameters: [{ name: 'Idempotency-Key', in: 'header', schema: idempotencyKeyHeader }],
    body: orderBody,
    responses: {
      201: {
        description: 'The order was created, or this is the replay of an earlier request with the same key and body.',
        json: orderJson,
        headers: {
          ...location('order'),
          'Idempotent-Replayed': {
            description: 'Present on a replay: this is the response of the first request, no new order.',
            required: false,
            schema: z.literal('true'),
          },
        },
      },
      ...bodyErrors('The body is missing, not valid JSON, or invalid (see `errors`); or a malformed Idempotency-Key.'),
      404: {
        description: 'A product (`productIds`) or the coupon does not exist; nothing was taken.',
        problems: ['not-found'],
      },
      409: {
        description:
          'Not enough stock (`shortages`), the coupon cannot be used, a promotion is sold out or over its ' +
          'per-customer limit, not enough points: nothing was taken. Or a request with the same ' +
          'Idempotency-Key is still in progress.',
        problems: [
          'insufficient-stock',
          'coupon-unavailable',
          'promotion-sold-out',
          'promotion-limit',
          'points-insufficient',
          'idempotency-key-reused',
        ],
      },
      422: {
        description: 'The Idempotency-Key was already used with another body.',
        problems: ['idempotency-key-reused'],
      },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/orders/{id}',
    operationId: 'getOrder',
    tag: 'orders',
    summary: 'Reads an order; one past its deadline is closed first, never shown as PENDING_PAYMENT.',
    pathId: 'order',
    responses: {
      200: { description: 'The order.', json: orderJson },
      400: badPath,
      404: notFound('order'),
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/orders/{id}/events',
    operationId: 'getOrderEvents',
    tag: 'orders',
    summary: 'The transitions of an order, oldest first.',
    pathId: 'order',
    responses: {
      200: { description: 'The events.', json: orderEventsJson },
      400: badPath,
      404: notFound('order'),
      ...internal,
    },
  },
  {
    method: 'post',
    path: '/orders/{id}/pay',
    operationId: 'payOrder',
    tag: 'payments',
    summary: "The payment provider's notification: pays the order, revives a closed one, or stores it for a refund.",
    description:
      "amountCents must be the order's totalCents. With PAYMENT_WEBHOOK_SECRET set, X-Signature must be " +
      '`sha256=<hex HMAC-SHA256 of the raw body>`. Every accepted payment is stored once; the same paymentRef ' +
      'again gets the same answer. A payment after the deadline revives the order (LATE_PAYMENT_POLICY=revive) ' +
      'when everything it held can be taken back; otherwise, or for a cancelled or already paid order, it is ' +
      'stored for a refund (202).',
    pathId: 'order',
    parameters: [{ name: 'X-Signature', in: 'header', schema: z.string().regex(/^sha256=[0-9a-fA-F]{64}$/) }],
    body: payBody,
    responses: {
      200: { description: 'The order, PAID (paid now, revived, or the same paymentRef again).', json: orderJson },
      202: {
        description: 'The payment was stored for a refund (order cancelled, paid already, or closed for good).',
        json: refundRequiredJson,
      },
      ...bodyErrors(
        'The body is missing, not valid JSON, or invalid (see `errors`); or the path is not valid percent-encoding.',
      ),
      401: {
        description: 'A webhook secret is configured and X-Signature is missing or does not match.',
        problems: ['invalid-signature'],
      },
      404: notFound('order'),
      409: {
        description:
          "amountCents is not the order's total (nothing stored), or the paymentRef was used for another order " +
          'or amount.',
        problems: ['amount-mismatch', 'payment-ref-mismatch'],
      },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/payments',
    operationId: 'listPayments',
    tag: 'payments',
    summary: 'Payments, oldest first, of one status or all.',
    parameters: [
      { name: 'status', in: 'query', schema: paymentsQuery.shape.status },
      { name: 'limit', in: 'query', schema: paymentsQuery.shape.limit },
    ],
    responses: {
      200: { description: 'The payments.', json: paymentsJson },
      400: {
        description: 'An unknown status, a limit out of 1..1000, or another parameter.',
        problems: ['bad-request'],
      },
      ...internal,
    },
  },
  {
    method: 'post',
    path: '/coupons',
    operationId: 'issueCoupon',
    tag: 'coupons',
    summary: 'Issues a coupon to a customer.',
    body: couponBody,
    responses: {
      201: { description: 'The coupon, AVAILABLE.', json: couponJson, headers: location('coupon') },
      ...bodyErrors('The body is missing, not valid JSON, or a field is invalid (expiresAt in the past too).'),
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/coupons/{id}',
    operationId: 'getCoupon',
    tag: 'coupons',
    summary: 'Reads a coupon.',
    pathId: 'coupon',
    responses: {
      200: { description: 'The coupon.', json: couponJson },
      400: badPath,
      404: notFound('coupon'),
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/customers/{customerId}/coupons',
    operationId: 'getCustomerCoupons',
    tag: 'coupons',
    summary: "A customer's coupons (none for a customer never given one).",
    customerId: true,
    responses: {
      200: { description: 'The coupons.', json: couponsJson },
      400: badPath,
      404: badCustomer,
      ...internal,
    },
  },
  {
    method: 'post',
    path: '/promotions',
    operationId: 'createPromotion',
    tag: 'promotions',
    summary: 'Creates a flash sale on a product: a price, a quota of units, a per-customer limit, a period.',
    body: promotionBody,
    responses: {
      201: { description: 'The promotion.', json: promotionJson, headers: location('promotion') },
      ...bodyErrors('The body is missing, not valid JSON, or a field is invalid (endsAt in the past too).'),
      404: { description: 'The product does not exist.', problems: ['not-found'] },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/promotions/{id}',
    operationId: 'getPromotion',
    tag: 'promotions',
    summary: 'Reads a promotion and how many of its units are sold.',
    pathId: 'promotion',
    responses: {
      200: { description: 'The promotion.', json: promotionJson },
      400: badPath,
      404: notFound('promotion'),
      ...internal,
    },
  },
  {
    method: 'post',
    path: '/customers/{customerId}/points',
    operationId: 'changePoints',
    tag: 'points',
    summary: "Grants (delta > 0) or takes (delta < 0) a customer's points.",
    customerId: true,
    body: pointsBody,
    responses: {
      200: { description: 'The account after the change.', json: pointsJson },
      ...bodyErrors(
        'The body is missing, not valid JSON, or invalid (see `errors`); or the path is not valid percent-encoding.',
      ),
      404: badCustomer,
      409: { description: 'A take larger than the balance; nothing changed.', problems: ['points-insufficient'] },
      ...internal,
    },
  },
  {
    method: 'get',
    path: '/customers/{customerId}/points',
    operationId: 'getPoints',
    tag: 'points',
    summary: "A customer's points (zeros for a customer never granted any).",
    customerId: true,
    responses: {
      200: { description: 'The account.', json: pointsJson },
      400: badPath,
      404: badCustomer,
      ...internal,
    },
  },
  ...(
    [
      [
        'cancel',
        'cancelOrder',
        'Cancels a PENDING_PAYMENT order (by its buyer) and gives its stock back.',
        'CANCELLED',
      ],
      ['ship', 'shipOrder', 'Marks a PAID order shipped.', 'SHIPPED'],
      ['complete', 'completeOrder', 'Marks a SHIPPED order completed.', 'COMPLETED'],
    ] as const
  ).map(([event, operationId, summary, to]): RouteSpec => ({
    method: 'post',
    path: `/orders/{id}/${event}`,
    operationId,
    tag: 'orders',
    summary,
    pathId: 'order',
    body: null,
    responses: {
      200: { description: `The order, ${to}.`, json: orderJson },
      ...bodyErrors('A body was sent that is not valid JSON; or the path is not valid percent-encoding.'),
      404: notFound('order'),
      409: {
        description: `The order's state forbids it (\`orderStatus\`), or it passed its deadline and is closed now.`,
        problems: conflicts,
      },
      ...internal,
    },
  })),
  {
    method: 'get',
    path: '/stats/timeouts',
    operationId: 'getTimeoutStats',
    tag: 'stats',
    summary: 'Per category of the orders created since `since`: what became of them, timeout rate, close lateness.',
    parameters: [
      { name: 'since', in: 'query', schema: sinceParam },
      { name: 'by', in: 'query', schema: byParam },
    ],
    responses: {
      200: { description: 'The figures.', json: timeoutStatsJson },
      400: {
        description: '`since` is given twice or has neither accepted form, or `by` is not category, region or tier.',
        problems: ['bad-request'],
      },
      ...internal,
    },
  },
  ...ADMIN_ROUTES,
];

function operation(route: RouteSpec): OperationObject {
  const parameters: ParameterObject[] = [];
  if (route.pathId)
    parameters.push({
      name: 'id',
      in: 'path',
      required: true,
      description: `The ${route.pathId} id.`,
      schema: inlineSchema(pathIdParam, 'input'),
    });
  if (route.customerId)
    parameters.push({
      name: 'customerId',
      in: 'path',
      required: true,
      description: 'The customer id, as in `customerId` of a body.',
      schema: inlineSchema(customerIdParam, 'input'),
    });
  for (const p of route.parameters ?? [])
    parameters.push({ name: p.name, in: p.in, required: false, schema: inlineSchema(p.schema, 'input') });

  const responses: Record<string, ResponseObject> = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const response: ResponseObject = { description: spec.description };
    if (spec.headers)
      response.headers = Object.fromEntries(
        Object.entries(spec.headers).map(([name, h]) => [
          name,
          { description: h.description, required: h.required, schema: inlineSchema(h.schema, 'output') },
        ]),
      );
    if (spec.json) response.content = { 'application/json': { schema: refTo(responseComponents, spec.json) } };
    if (spec.text) response.content = { 'text/plain': { schema: { type: 'string' } } };
    if (spec.problems) {
      const refs = spec.problems.map((type) => refTo(responseComponents, problemJson[type]));
      response.content = { 'application/problem+json': { schema: refs.length === 1 ? refs[0]! : { oneOf: refs } } };
    }
    responses[status] = response;
  }

  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined
      ? {}
      : {
          requestBody:
            route.body === null
              ? {
                  description: 'Not needed; if one is sent, it must be JSON, and it is ignored.',
                  required: false,
                  content: { 'application/json': { schema: {} } },
                }
              : { required: true, content: { 'application/json': { schema: refTo(requestComponents, route.body) } } },
        }),
    responses,
    ...(route.admin ? { security: [{ adminToken: [] }] } : {}),
  };
}

/** Builds the document from the route table and the zod schemas. */
export function buildOpenApiDocument(): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of ROUTES) {
    const methods = (paths[route.path] ??= {});
    if (methods[route.method]) throw new Error(`${route.method} ${route.path} is described twice`);
    methods[route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'order-timeout',
      version: packageJson.version,
      description:
        'Closes unpaid e-commerce orders when their payment window runs out, and gives their stock back. ' +
        'Errors are RFC 9457 problems (application/problem+json) whose `type` is urn:order-timeout:problem:<name>.',
    },
    tags: [
      { name: 'products', description: 'Products and their stock.' },
      { name: 'orders', description: 'Orders and their lifecycle.' },
      { name: 'payments', description: "The payment provider's notifications, and the payments kept." },
      { name: 'coupons', description: 'Coupons issued to customers, held and used by orders.' },
      { name: 'promotions', description: 'Flash sales: a price for a quota of units.' },
      { name: 'points', description: 'Customer points, redeemed by orders one cent each.' },
      { name: 'stats', description: 'What became of the orders of a period.' },
      { name: 'admin', description: 'The timer policy, changed at run time (needs the admin token).' },
      { name: 'operations', description: 'Health, readiness, metrics, this document.' },
    ],
    paths,
    components: {
      schemas: { ...componentSchemas(requestComponents, 'input'), ...componentSchemas(responseComponents, 'output') },
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN of the service.' },
      },
    },
  };
}

let cached: string | undefined;

/** The document as `GET /openapi.json` serves it and `docs/openapi.json` holds it: 2-space JSON and a newline. */
export function openApiText(): string {
  // The same code always yields the same document: build it once per process.
  cached ??= `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
  return cached;
}
