import { createHmac, randomBytes } from 'node:crypto';
import { openApiText, type Method } from '../../src/http/openapi';
import { expireInDb } from '../support/fixtures';
import { OpenApiChecker } from '../support/openapi-checker';
import { startTestService, type ApiResponse, type TestService } from '../support/service';

// Real requests against a running service; every response is held to GET /openapi.json, the document it serves:
// the route must list the status, and body and headers must match that status's schema.

let svc: TestService;
let checker: OpenApiChecker;

const ADMIN = { authorization: 'Bearer conformance-admin-token' };

beforeAll(async () => {
  svc = await startTestService({ admin: { token: 'conformance-admin-token' } });
  const res = await svc.api('GET', '/openapi.json');
  checker = new OpenApiChecker(res.body);
  checker.checkResponse('get', '/openapi.json', res);
});

afterAll(async () => {
  await svc?.destroy();
});

/** One request, by its route in the document. */
interface Call {
  /** HTTP method. */
  method: Method;
  /** The route as the document names it (`/orders/{id}`). */
  template: string;
  /** What replaces `{id}`. */
  id?: string;
  /** What replaces `{customerId}` (default cust-1). */
  customerId?: string;
  /** Appended to the path as is (`?since=24h`). */
  query?: string;
  /** JSON body (a string is sent as it is). */
  body?: unknown;
  /** Request headers. */
  headers?: Record<string, string>;
}

/**
 * Sends a request, checks the status the scenario expects (and the problem type, for an error), then holds the
 * response to the document; a body the service accepted is held to the documented request schema too.
 */
async function call(expected: number, c: Call, problem?: string, on: TestService = svc): Promise<ApiResponse> {
  const path =
    c.template.replace('{id}', c.id ?? '').replace('{customerId}', c.customerId ?? 'cust-1') + (c.query ?? '');
  const res = await on.api(c.method.toUpperCase(), path, c.body, c.headers);
  if (res.status !== expected)
    throw new Error(`${c.method} ${path} answered ${res.status}, expected ${expected}: ${JSON.stringify(res.body)}`);
  if (problem) expect(res.body.type).toBe(`urn:order-timeout:problem:${problem}`);
  checker.checkResponse(c.method, c.template, res);
  if (expected < 300 && typeof c.body === 'object') checker.checkRequestBody(c.method, c.template, c.body);
  return res;
}

const sku = () => `sku-${randomBytes(6).toString('hex')}`;

async function product(stock = 100): Promise<string> {
  const body = { sku: sku(), name: 'Book', category: 'books', priceCents: 1250, stock };
  return (await call(201, { method: 'post', template: '/products', body })).body.id as string;
}

async function order(productId: string, quantity = 1, extra: object = {}): Promise<string> {
  const body = { customerId: 'cust-1', items: [{ productId, quantity }], ...extra };
  return (await call(201, { method: 'post', template: '/orders', body })).body.id as string;
}

/** The provider's notification; the amount is the total of one 1250-cent book unless told. */
const pay = (id: string, paymentRef: string, amountCents = 1250): Call => ({
  method: 'post',
  template: '/orders/{id}/pay',
  id,
  body: { paymentRef, amountCents },
});
const customer = () => `cust-${randomBytes(4).toString('hex')}`;
const later = (ms: number) => new Date(Date.now() + ms).toISOString();
const transition = (event: 'cancel' | 'ship' | 'complete', id: string): Call => ({
  method: 'post',
  template: `/orders/{id}/${event}`,
  id,
});

describe('GET /openapi.json', () => {
  test('when asked, then it serves byte for byte the document the code generates', async () => {
    const res = await fetch(`${svc.baseUrl}/openapi.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(openApiText());
  });
});

describe('health, readiness, metrics', () => {
  test('when the service is up, then /healthz, /readyz and /metrics answer as documented', async () => {
    expect((await call(200, { method: 'get', template: '/healthz' })).body).toEqual({ status: 'ok' });
    expect((await call(200, { method: 'get', template: '/readyz' })).body).toEqual({ status: 'ready', down: [] });
    expect((await call(200, { method: 'get', template: '/metrics' })).body).toContain('# TYPE');
  });
});

describe('products', () => {
  test('when a product is created and read, then the 201 and the 200 match the Product schema', async () => {
    const body = { sku: sku(), name: 'Apple', category: 'fresh', priceCents: 99, stock: 7 };
    const created = await call(201, { method: 'post', template: '/products', body });
    const read = await call(200, { method: 'get', template: '/products/{id}', id: created.body.id });
    expect(read.body).toEqual(created.body);
  });

  test('when the sku is taken, then the 409 duplicate-sku matches the document', async () => {
    const body = { sku: sku(), name: 'A', category: 'books', priceCents: 1, stock: 1 };
    await call(201, { method: 'post', template: '/products', body });
    await call(409, { method: 'post', template: '/products', body }, 'duplicate-sku');
  });

  test('when fields are invalid, then the 400 lists each under errors and matches the document', async () => {
    const body = { sku: '  ', name: 'A', category: 'c', priceCents: 'free', stock: 1 };
    const res = await call(400, { method: 'post', template: '/products', body }, 'bad-request');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['sku', 'priceCents']);
  });
});

describe('creating orders', () => {
  test('when an order is replayed with its Idempotency-Key, then both 201s match and the replay is marked', async () => {
    const productId = await product();
    const c: Call = {
      method: 'post',
      template: '/orders',
      body: { customerId: 'cust-1', items: [{ productId: Number(productId), quantity: 2 }] },
      headers: { 'Idempotency-Key': `key-${randomBytes(6).toString('hex')}` },
    };
    const first = await call(201, c);
    const replay = await call(201, c);
    expect(replay.body).toEqual(first.body);
    expect([first.headers.get('idempotent-replayed'), replay.headers.get('idempotent-replayed')]).toEqual([
      null,
      'true',
    ]);
  });

  test('when an Idempotency-Key comes back with another body, then the 422 matches the document', async () => {
    const productId = await product();
    const headers = { 'Idempotency-Key': `key-${randomBytes(6).toString('hex')}` };
    const items = [{ productId, quantity: 1 }];
    await call(201, { method: 'post', template: '/orders', body: { customerId: 'a', items }, headers });
    await call(
      422,
      { method: 'post', template: '/orders', body: { customerId: 'b', items }, headers },
      'idempotency-key-reused',
    );
  });

  test('when the Idempotency-Key is malformed, then the 400 matches the document', async () => {
    const productId = await product();
    const body = { customerId: 'a', items: [{ productId, quantity: 1 }] };
    const headers = { 'Idempotency-Key': 'has spaces' };
    await call(400, { method: 'post', template: '/orders', body, headers }, 'bad-request');
  });

  test('when stock is short or a product unknown, then the 409 with shortages and the 404 with productIds match', async () => {
    const productId = await product(1);
    const short = await call(
      409,
      { method: 'post', template: '/orders', body: { customerId: 'a', items: [{ productId, quantity: 2 }] } },
      'insufficient-stock',
    );
    expect(short.body.shortages).toEqual([{ productId, requested: 2, available: 1 }]);
    const unknown = await call(
      404,
      {
        method: 'post',
        template: '/orders',
        body: { customerId: 'a', items: [{ productId: '999999999', quantity: 1 }] },
      },
      'not-found',
    );
    expect(unknown.body.productIds).toEqual(['999999999']);
  });
});

describe('the lifecycle of an order', () => {
  test('when an order is read, its events listed, paid, and paid again with the same ref, then every 200 matches', async () => {
    const id = await order(await product());
    expect((await call(200, { method: 'get', template: '/orders/{id}', id })).body.status).toBe('PENDING_PAYMENT');
    expect((await call(200, pay(id, 'pay-1'))).body.status).toBe('PAID');
    expect((await call(200, pay(id, 'pay-1'))).body.paymentRef).toBe('pay-1');
    const events = await call(200, { method: 'get', template: '/orders/{id}/events', id });
    expect(events.body.map((e: { event: string }) => e.event)).toEqual(['create', 'pay']);
  });

  test('when a paid order is shipped and completed, then both 200s match, and shipping again is a documented 409', async () => {
    const id = await order(await product());
    await call(200, pay(id, 'pay-2'));
    expect((await call(200, transition('ship', id))).body.status).toBe('SHIPPED');
    expect((await call(200, transition('complete', id))).body.status).toBe('COMPLETED');
    const again = await call(409, transition('ship', id), 'illegal-transition');
    expect(again.body).toEqual(expect.objectContaining({ orderStatus: 'COMPLETED', event: 'ship' }));
  });

  test('when a paymentRef comes back for another order, then the 409 payment-ref-mismatch matches the document', async () => {
    const id = await order(await product());
    const other = await order(await product());
    await call(200, pay(id, `pay-3-${id}`));
    const res = await call(409, pay(other, `pay-3-${id}`), 'payment-ref-mismatch');
    expect(res.body.orderId).toBe(id);
  });

  test('when an order is cancelled, then the 200 matches, cancelling or completing it are 409s, paying it a 202', async () => {
    const id = await order(await product());
    expect((await call(200, transition('cancel', id))).body.status).toBe('CANCELLED');
    await call(409, transition('cancel', id), 'illegal-transition');
    await call(409, transition('complete', id), 'illegal-transition');
    const ref = `late-${id}`;
    const refund = await call(202, pay(id, ref));
    expect(refund.body).toEqual({ orderId: id, paymentRef: ref, status: 'REFUND_REQUIRED' });
  });

  test('when an order passed its deadline, then cancelling it is the documented 409 and paying it revives it', async () => {
    const id = await order(await product());
    await expireInDb(svc, id);
    const res = await call(409, transition('cancel', id), 'payment-window-ended');
    expect(res.body.orderStatus).toBe('CLOSED');
    expect((await call(200, pay(id, `revive-${id}`))).body.status).toBe('PAID');
  });

  test('when the amount is not the total, then the 409 amount-mismatch matches the document', async () => {
    const id = await order(await product());
    const res = await call(409, pay(id, `wrong-${id}`, 1), 'amount-mismatch');
    expect(res.body).toMatchObject({ totalCents: 1250, amountCents: 1 });
  });
});

describe('payments', () => {
  test('when payments are listed, all or by status, then the 200s match; a bad status is a documented 400', async () => {
    const id = await order(await product());
    await call(200, pay(id, `list-${id}`));
    const all = await call(200, { method: 'get', template: '/payments' });
    expect(all.body.length).toBeGreaterThan(0);
    await call(200, { method: 'get', template: '/payments', query: '?status=CAPTURED&limit=5' });
    await call(400, { method: 'get', template: '/payments', query: '?status=LOST' }, 'bad-request');
  });

  test('when a webhook secret is set and the signature is missing or wrong, then the 401 matches; a signed one is a 200', async () => {
    const secret = 'conformance-secret';
    const signed = await startTestService({ payments: { webhookSecret: secret, latePaymentPolicy: 'revive' } });
    try {
      const productBody = { sku: sku(), name: 'Book', category: 'books', priceCents: 1250, stock: 5 };
      const productId = (await signed.api('POST', '/products', productBody)).body.id as string;
      const id = (await signed.api('POST', '/orders', { customerId: 'c', items: [{ productId, quantity: 1 }] })).body
        .id as string;
      const c = pay(id, `signed-${id}`);
      await call(401, c, 'invalid-signature', signed);
      await call(401, { ...c, headers: { 'X-Signature': `sha256=${'0'.repeat(64)}` } }, 'invalid-signature', signed);
      const body = JSON.stringify(c.body);
      const sig = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      await call(200, { ...c, body, headers: { 'X-Signature': sig } }, undefined, signed);
    } finally {
      await signed.destroy();
    }
  });
});

describe('coupons, promotions and points', () => {
  test('when a coupon is issued, read and listed, then the 201 and the 200s match; an expired one is a 400', async () => {
    const customerId = customer();
    const body = { customerId, discountCents: 100, minTotalCents: 0, expiresAt: later(3_600_000) };
    const created = await call(201, { method: 'post', template: '/coupons', body });
    await call(200, { method: 'get', template: '/coupons/{id}', id: created.body.id });
    const listed = await call(200, { method: 'get', template: '/customers/{customerId}/coupons', customerId });
    expect(listed.body).toEqual([created.body]);
    await call(
      400,
      { method: 'post', template: '/coupons', body: { ...body, expiresAt: later(-1_000) } },
      'bad-request',
    );
  });

  test('when a promotion is created and read, then the 201 and the 200 match; an unknown product is a 404', async () => {
    const body = {
      productId: await product(),
      priceCents: 500,
      quota: 1,
      perCustomerLimit: 1,
      startsAt: later(-1_000),
      endsAt: later(3_600_000),
    };
    const created = await call(201, { method: 'post', template: '/promotions', body });
    await call(200, { method: 'get', template: '/promotions/{id}', id: created.body.id });
    await call(
      404,
      { method: 'post', template: '/promotions', body: { ...body, productId: '999999999' } },
      'not-found',
    );
    await call(400, { method: 'post', template: '/promotions', body: { ...body, quota: 0 } }, 'bad-request');
  });

  test('when points are granted, read and overdrawn, then the 200s and the 409 match', async () => {
    const customerId = customer();
    const points = (delta: number): Call => ({
      method: 'post',
      template: '/customers/{customerId}/points',
      customerId,
      body: { delta, reason: 'conformance' },
    });
    expect((await call(200, points(300))).body).toEqual({ customerId, balance: 300, held: 0 });
    await call(200, { method: 'get', template: '/customers/{customerId}/points', customerId });
    await call(409, points(-301), 'points-insufficient');
    await call(400, points(0), 'bad-request');
  });

  test('when a customer id cannot be one or a path is not valid percent-encoding, then the 404 and the 400 match', async () => {
    const routes: Call[] = [
      { method: 'get', template: '/customers/{customerId}/coupons' },
      { method: 'get', template: '/customers/{customerId}/points' },
      { method: 'post', template: '/customers/{customerId}/points', body: { delta: 1, reason: 'r' } },
    ];
    for (const route of routes) {
      await call(404, { ...route, customerId: 'x'.repeat(65) }, 'not-found');
      await call(400, { ...route, customerId: '%E0%A4' }, 'bad-request');
    }
  });

  test('when an order is refused for its coupon, promotion, limit or points, then each 409 matches the document', async () => {
    const customerId = customer();
    const productId = await product();
    const orderOf = (body: object): Call => ({
      method: 'post',
      template: '/orders',
      body: { customerId, items: [{ productId, quantity: 1 }], ...body },
    });
    const coupon = await call(201, {
      method: 'post',
      template: '/coupons',
      body: { customerId: customer(), discountCents: 100, minTotalCents: 0, expiresAt: later(3_600_000) },
    });
    await call(409, orderOf({ couponId: coupon.body.id }), 'coupon-unavailable');
    await call(409, orderOf({ pointsToRedeem: 10 }), 'points-insufficient');
    const promotionBody = {
      productId,
      priceCents: 500,
      quota: 5,
      perCustomerLimit: 1,
      startsAt: later(-1_000),
      endsAt: later(3_600_000),
    };
    await call(201, { method: 'post', template: '/promotions', body: promotionBody });
    await call(409, { ...orderOf({}), body: { customerId, items: [{ productId, quantity: 2 }] } }, 'promotion-limit');
    const soldOut = await product();
    await call(201, {
      method: 'post',
      template: '/promotions',
      body: { ...promotionBody, productId: soldOut, quota: 1 },
    });
    await call(
      409,
      { ...orderOf({}), body: { customerId, items: [{ productId: soldOut, quantity: 2 }] } },
      'promotion-sold-out',
    );
  });
});

describe('errors every route of a kind shares', () => {
  const routes = (want: (template: string, method: Method, hasBody: boolean) => boolean) => {
    const doc = JSON.parse(openApiText()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    return Object.entries(doc.paths).flatMap(([template, methods]) =>
      Object.entries(methods)
        .filter(([method, op]) => want(template, method as Method, op.requestBody !== undefined))
        .map(([method]) => ({ method: method as Method, template })),
    );
  };

  test('when a route that reads a body gets bad JSON, one over the limit or one not JSON, then 400, 413 and 415 match', async () => {
    const id = await order(await product());
    const withBody = routes((_t, _m, hasBody) => hasBody);
    expect(withBody.length).toBe(10);
    for (const route of withBody) {
      const headers = route.template.startsWith('/admin/') ? ADMIN : {};
      await call(400, { ...route, id, body: '{"sku": "x",', headers }, 'bad-request');
      await call(
        413,
        { ...route, id, body: JSON.stringify({ sku: 'x'.repeat(101 * 1024) }), headers },
        'payload-too-large',
      );
      await call(
        415,
        { ...route, id, body: 'sku=x', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } },
        'unsupported-media-type',
      );
    }
  });

  test('when an id does not exist, cannot exist, or is not valid percent-encoding, then 404, 404 and 400 match', async () => {
    const withId = routes((template) => template.includes('{id}'));
    expect(withId.length).toBe(9);
    for (const route of withId) {
      const body = route.template.endsWith('/pay') ? { paymentRef: 'r', amountCents: 1 } : undefined;
      await call(404, { ...route, id: '999999999', body }, 'not-found');
      await call(404, { ...route, id: 'abc', body }, 'not-found');
      await call(400, { ...route, id: '%E0%A4', body }, 'bad-request');
    }
  });
});

describe('GET /stats/timeouts', () => {
  test('when asked without since, with a duration and with an ISO time, then every 200 matches', async () => {
    await order(await product());
    const stats = await call(200, { method: 'get', template: '/stats/timeouts' });
    expect(stats.body.totals.created).toBeGreaterThan(0);
    await call(200, { method: 'get', template: '/stats/timeouts', query: '?since=72h' });
    await call(200, { method: 'get', template: '/stats/timeouts', query: '?since=2026-11-20T08:00:00Z' });
  });

  test('when since is not a time or is given twice, then the 400 matches the document', async () => {
    await call(400, { method: 'get', template: '/stats/timeouts', query: '?since=yesterday' }, 'bad-request');
    await call(400, { method: 'get', template: '/stats/timeouts', query: '?since=1h&since=2h' }, 'bad-request');
  });

  test('when grouped by region and by tier, then the 200s match; an unknown dimension is a documented 400', async () => {
    await order(await product(), 1, { region: 'eu-west', customerTier: 'gold' });
    const byRegion = await call(200, { method: 'get', template: '/stats/timeouts', query: '?by=region' });
    expect(byRegion.body.groups.map((g: { group: string }) => g.group)).toContain('eu-west');
    await call(200, { method: 'get', template: '/stats/timeouts', query: '?by=tier&since=1h' });
    await call(400, { method: 'get', template: '/stats/timeouts', query: '?by=country' }, 'bad-request');
  });
});

describe('the admin policy', () => {
  const policy = { paymentWindows: { default: '15m', fresh: '10m' }, autoCompleteAfter: '3d' };

  test('when read, changed and listed with the admin token, then every 200 matches the document', async () => {
    const before = await call(200, { method: 'get', template: '/admin/policy', headers: ADMIN });
    const put = {
      method: 'put' as const,
      template: '/admin/policy',
      body: policy,
      headers: { ...ADMIN, 'x-actor': 'ops' },
    };
    const changed = await call(200, put);
    expect(changed.body).toEqual(expect.objectContaining({ version: before.body.version + 1, changedBy: 'ops' }));
    await call(200, { method: 'get', template: '/admin/policy/history', query: '?limit=5', headers: ADMIN });
  });

  test('when the token is missing or wrong, then each route answers the documented 401', async () => {
    for (const [method, template] of [
      ['get', '/admin/policy'],
      ['put', '/admin/policy'],
      ['get', '/admin/policy/history'],
    ] as const) {
      await call(401, { method, template, body: method === 'put' ? policy : undefined }, 'unauthorized');
      await call(401, { method, template, headers: { authorization: 'Bearer nope' } }, 'unauthorized');
    }
  });

  test('when the policy is invalid, a member unknown, X-Actor or limit malformed, then the 422 and the 400s match', async () => {
    const put = (body: unknown, headers = {}) => ({
      method: 'put' as const,
      template: '/admin/policy',
      body,
      headers: { ...ADMIN, ...headers },
    });
    await call(422, put({ ...policy, paymentWindows: { fresh: '10m' } }), 'invalid-policy');
    await call(400, put({ ...policy, extra: 1 }), 'bad-request');
    await call(400, put(policy, { 'x-actor': ' ' }), 'bad-request');
    const history = { method: 'get' as const, template: '/admin/policy/history', headers: ADMIN };
    await call(400, { ...history, query: '?limit=0' }, 'bad-request');
  });
});

// Runs last (Jest runs a file's tests in order): what the scenarios above answered, against what the document lists.
test('when every scenario has run, then each documented status was answered, but for those that need a failure', () => {
  // A 500 needs a failing database and /readyz's 503 an unreachable dependency: test/disruptive and test/faults
  // break them. An API route's 503 needs an overload: test/integration/overload.test.ts checks it against the document.
  const needsAFailure = (key: string) => key.endsWith(' 500') || key.endsWith(' 503');
  const doc = JSON.parse(openApiText()) as { paths: Record<string, Record<string, { responses: object }>> };
  const listed = Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods).flatMap(([method, op]) =>
      Object.keys(op.responses).map((status) => `${method} ${template} ${status}`),
    ),
  );
  expect(listed.filter((key) => !needsAFailure(key) && !checker.seen.has(key))).toEqual([]);
});
