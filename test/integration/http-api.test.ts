import { startTestService, type TestService } from '../support/service';
import { eventsOf, expectProblem, ISO_MS, makeOrder, makeProduct, stockOf } from '../support/fixtures';
import { pay } from '../support/payments';

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ orderPaymentTimeouts: { default: '15m', fresh: '5m' } });
});

afterAll(async () => {
  await service?.destroy();
});

/** Sends a raw body with the given content type. */
async function rawPost(path: string, body: string, contentType: string | undefined) {
  const res = await fetch(service.baseUrl + path, {
    method: 'POST',
    headers: contentType ? { 'content-type': contentType } : {},
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, headers: res.headers, body: parsed as any };
}

const BIG = 'x'.repeat(101 * 1024);

describe('POST /products', () => {
  it('when the body is valid, then it answers 201 with the product and its location', async () => {
    const res = await service.api('POST', '/products', {
      sku: 'apple-1',
      name: 'Apple',
      category: 'fresh',
      priceCents: 99,
      stock: 7,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[1-9]\d*$/),
      sku: 'apple-1',
      name: 'Apple',
      category: 'fresh',
      priceCents: 99,
      stock: 7,
    });
    expect(res.headers.get('location')).toBe(`/products/${res.body.id}`);
    const row = await service.db('products').where({ id: res.body.id }).first();
    expect({ sku: row.sku, stock: Number(row.stock), price: Number(row.price_cents) }).toEqual({
      sku: 'apple-1',
      stock: 7,
      price: 99,
    });
  });

  it('when the sku already exists, then it answers 409 duplicate-sku and the first product is untouched', async () => {
    const first = await makeProduct(service, { sku: 'dup-sku', stock: 3 });
    const res = await service.api('POST', '/products', {
      sku: 'dup-sku',
      name: 'Other',
      category: 'books',
      priceCents: 1,
      stock: 50,
    });
    expectProblem(res, 409, 'duplicate-sku');
    expect(res.body.detail).toContain('dup-sku');
    expect(await stockOf(service, first.id)).toBe(3);
    expect(await service.db('products').where({ sku: 'dup-sku' }).count({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it.each<[string, unknown]>([
    ['sku is missing', { name: 'A', category: 'c', priceCents: 1, stock: 1 }],
    ['sku is empty', { sku: '  ', name: 'A', category: 'c', priceCents: 1, stock: 1 }],
    ['sku is too long', { sku: 's'.repeat(65), name: 'A', category: 'c', priceCents: 1, stock: 1 }],
    ['priceCents is a string', { sku: 'p1', name: 'A', category: 'c', priceCents: '100', stock: 1 }],
    ['priceCents is fractional', { sku: 'p2', name: 'A', category: 'c', priceCents: 9.99, stock: 1 }],
    ['priceCents is negative', { sku: 'p3', name: 'A', category: 'c', priceCents: -1, stock: 1 }],
    ['stock is negative', { sku: 'p4', name: 'A', category: 'c', priceCents: 1, stock: -5 }],
    ['stock is null', { sku: 'p5', name: 'A', category: 'c', priceCents: 1, stock: null }],
    ['the body is an array', [{ sku: 'p6', name: 'A', category: 'c', priceCents: 1, stock: 1 }]],
  ])('when %s, then it answers 400 with a problem naming the field, and no product is created', async (_name, body) => {
    const before = await service.db('products').count({ n: '*' });
    const res = await service.api('POST', '/products', body);
    expectProblem(res, 400, 'bad-request');
    expect(await service.db('products').count({ n: '*' })).toEqual(before);
  });

  it('when a field is bad, then the problem lists it under errors with its path', async () => {
    const res = await service.api('POST', '/products', {
      sku: 'p7',
      name: 'A',
      category: 'c',
      priceCents: 'free',
      stock: 1,
    });
    expectProblem(res, 400, 'bad-request');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'priceCents' })]);
    expect(res.body.detail).toContain('priceCents');
  });

  it('when the JSON is malformed, then it answers 400', async () => {
    const res = await rawPost('/products', '{"sku": "x",', 'application/json');
    expectProblem(res, 400, 'bad-request');
  });

  it('when there is no body, then it answers 400', async () => {
    const res = await service.api('POST', '/products');
    expectProblem(res, 400, 'bad-request');
  });

  it('when the body is not JSON, then it answers 415', async () => {
    const res = await rawPost('/products', 'sku=x&name=y', 'application/x-www-form-urlencoded');
    expectProblem(res, 415, 'unsupported-media-type');
  });

  it('when the body is over 100 kB, then it answers 413 and no product is created', async () => {
    const res = await service.api('POST', '/products', {
      sku: 'big',
      name: BIG,
      category: 'c',
      priceCents: 1,
      stock: 1,
    });
    expectProblem(res, 413, 'payload-too-large');
    expect(await service.db('products').where({ sku: 'big' }).first()).toBeUndefined();
  });
});

describe('GET /products/:id', () => {
  it('when the product exists, then it answers 200 with id, sku, name, category, priceCents and stock', async () => {
    const p = await makeProduct(service, { name: 'Milk', category: 'fresh', priceCents: 129, stock: 12 });
    const res = await service.api('GET', `/products/${p.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: p.id, sku: p.sku, name: 'Milk', category: 'fresh', priceCents: 129, stock: 12 });
  });

  it('when the product does not exist, then it answers 404 not-found', async () => {
    const res = await service.api('GET', '/products/987654321');
    expectProblem(res, 404, 'not-found');
    expect(res.body.detail).toContain('987654321');
  });

  it.each(['abc', '0', '-1', '1.5', '01', '99999999999999999999999', '1e3'])(
    'when the id is %p (not a product id), then it answers 404',
    async (id) => {
      const res = await service.api('GET', `/products/${encodeURIComponent(id)}`);
      expectProblem(res, 404, 'not-found');
    },
  );
});

describe('POST /orders', () => {
  it('when the body is valid, then it answers 201 with the order and takes the stock', async () => {
    const a = await makeProduct(service, { priceCents: 250, stock: 10 });
    const b = await makeProduct(service, { priceCents: 1000, stock: 5 });
    const res = await service.api('POST', '/orders', {
      customerId: 'cust-42',
      items: [
        { productId: a.id, quantity: 3 },
        { productId: Number(b.id), quantity: 1 },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const order = res.body;
    expect(order).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^[1-9]\d*$/),
        customerId: 'cust-42',
        status: 'PENDING_PAYMENT',
        totalCents: 3 * 250 + 1000,
        expiresAt: expect.stringMatching(ISO_MS),
        createdAt: expect.stringMatching(ISO_MS),
        paidAt: null,
        closedAt: null,
      }),
    );
    expect(
      [...order.items].sort(
        (x: { productId: string }, y: { productId: string }) => Number(x.productId) - Number(y.productId),
      ),
    ).toEqual(
      [
        { productId: a.id, quantity: 3, unitPriceCents: 250 },
        { productId: b.id, quantity: 1, unitPriceCents: 1000 },
      ].sort((x, y) => Number(x.productId) - Number(y.productId)),
    );
    expect(Date.parse(order.expiresAt) - Date.parse(order.createdAt)).toBe(15 * 60_000);
    expect(res.headers.get('location')).toBe(`/orders/${order.id}`);
    expect(await stockOf(service, a.id)).toBe(7);
    expect(await stockOf(service, b.id)).toBe(4);
    const row = await service.db('orders').where({ id: order.id }).first();
    expect(row.status).toBe('PENDING_PAYMENT');
    expect(row.closed_at).toBeNull();
    expect((row.expires_at as Date).toISOString()).toBe(order.expiresAt);
  });

  it('when an item is in a category with a shorter window, then the order gets that window and that category', async () => {
    const book = await makeProduct(service, { category: 'books' });
    const milk = await makeProduct(service, { category: 'fresh' });
    const order = await makeOrder(service, [
      { productId: book.id, quantity: 1 },
      { productId: milk.id, quantity: 1 },
    ]);
    const full = (await service.api('GET', `/orders/${order.id}`)).body;
    expect(Date.parse(full.expiresAt) - Date.parse(full.createdAt)).toBe(5 * 60_000);
    expect(full.category).toBe('fresh');
  });

  it.each(['constructor', 'toString', '__proto__'])(
    'when a product category is named %p, then ordering it uses the default window (no 500)',
    async (category) => {
      const p = await makeProduct(service, { category });
      const res = await service.api('POST', '/orders', { customerId: 'c', items: [{ productId: p.id, quantity: 1 }] });
      expect(res.status).toBe(201);
      expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(15 * 60_000);
    },
  );

  it('when the stock is short for one item, then it answers 409 with the shortage and nothing is taken', async () => {
    const plenty = await makeProduct(service, { stock: 10 });
    const scarce = await makeProduct(service, { stock: 2 });
    const ordersBefore = await service.db('orders').count({ n: '*' });
    const res = await service.api('POST', '/orders', {
      customerId: 'c',
      items: [
        { productId: plenty.id, quantity: 4 },
        { productId: scarce.id, quantity: 3 },
      ],
    });
    expectProblem(res, 409, 'insufficient-stock');
    expect(res.body.shortages).toEqual([{ productId: scarce.id, requested: 3, available: 2 }]);
    expect(await stockOf(service, plenty.id)).toBe(10);
    expect(await stockOf(service, scarce.id)).toBe(2);
    expect(await service.db('orders').count({ n: '*' })).toEqual(ordersBefore);
  });

  it('when one product is unknown, then it answers 404 naming it and nothing is taken', async () => {
    const known = await makeProduct(service, { stock: 10 });
    const res = await service.api('POST', '/orders', {
      customerId: 'c',
      items: [
        { productId: known.id, quantity: 1 },
        { productId: '987654321', quantity: 1 },
      ],
    });
    expectProblem(res, 404, 'not-found');
    expect(res.body.detail).toContain('987654321');
    expect(await stockOf(service, known.id)).toBe(10);
  });

  it.each<[string, unknown]>([
    ['customerId is missing', { items: [{ productId: '1', quantity: 1 }] }],
    ['items is missing', { customerId: 'c' }],
    ['items is empty', { customerId: 'c', items: [] }],
    ['items is not an array', { customerId: 'c', items: { productId: '1', quantity: 1 } }],
    ['quantity is 0', { customerId: 'c', items: [{ productId: '1', quantity: 0 }] }],
    ['quantity is negative', { customerId: 'c', items: [{ productId: '1', quantity: -2 }] }],
    ['quantity is fractional', { customerId: 'c', items: [{ productId: '1', quantity: 1.5 }] }],
    ['quantity is a string', { customerId: 'c', items: [{ productId: '1', quantity: '1' }] }],
    ['productId is not a number', { customerId: 'c', items: [{ productId: 'abc', quantity: 1 }] }],
    ['productId is negative', { customerId: 'c', items: [{ productId: -1, quantity: 1 }] }],
    [
      'a productId appears twice',
      {
        customerId: 'c',
        items: [
          { productId: '1', quantity: 1 },
          { productId: '1', quantity: 2 },
        ],
      },
    ],
    [
      'there are more than 100 items',
      { customerId: 'c', items: Array.from({ length: 101 }, (_, i) => ({ productId: String(i + 1), quantity: 1 })) },
    ],
    ['the body is a JSON string', 'not an object'],
    ['the body is an array', [{ customerId: 'c' }]],
  ])('when %s, then it answers 400 and no order is created', async (_name, body) => {
    const before = await service.db('orders').count({ n: '*' });
    const res = await service.api('POST', '/orders', typeof body === 'string' ? JSON.stringify(body) : body);
    expectProblem(res, 400, 'bad-request');
    expect(await service.db('orders').count({ n: '*' })).toEqual(before);
  });

  it('when the JSON is malformed, then it answers 400', async () => {
    const res = await rawPost('/orders', '{"customerId": "c", "items": [', 'application/json');
    expectProblem(res, 400, 'bad-request');
  });

  it('when there is no body, then it answers 400', async () => {
    const res = await service.api('POST', '/orders');
    expectProblem(res, 400, 'bad-request');
  });

  it('when the body is over 100 kB, then it answers 413 and nothing is taken', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const res = await service.api('POST', '/orders', {
      customerId: 'c',
      items: [{ productId: p.id, quantity: 1 }],
      padding: BIG,
    });
    expectProblem(res, 413, 'payload-too-large');
    expect(await stockOf(service, p.id)).toBe(10);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['XML', 'application/xml'],
  ])('when the body is %s, then it answers 415 and nothing is taken', async (_name, type) => {
    const p = await makeProduct(service, { stock: 10 });
    const res = await rawPost(
      '/orders',
      JSON.stringify({ customerId: 'c', items: [{ productId: p.id, quantity: 1 }] }),
      type,
    );
    expectProblem(res, 415, 'unsupported-media-type');
    expect(await stockOf(service, p.id)).toBe(10);
  });

  it('when the Idempotency-Key is reused with another body, then it answers 422 and takes nothing more', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const first = await service.api(
      'POST',
      '/orders',
      { customerId: 'c', items: [{ productId: p.id, quantity: 1 }] },
      { 'Idempotency-Key': 'http-api-422' },
    );
    expect(first.status).toBe(201);
    const res = await service.api(
      'POST',
      '/orders',
      { customerId: 'c', items: [{ productId: p.id, quantity: 2 }] },
      { 'Idempotency-Key': 'http-api-422' },
    );
    expectProblem(res, 422, 'idempotency-key-reused');
    expect(await stockOf(service, p.id)).toBe(9);
  });

  it.each([
    ['has a space', 'two words'],
    ['is longer than 255 characters', 'k'.repeat(256)],
  ])('when the Idempotency-Key %s, then it answers 400 and creates nothing', async (_name, key) => {
    const p = await makeProduct(service, { stock: 10 });
    const res = await service.api(
      'POST',
      '/orders',
      { customerId: 'c', items: [{ productId: p.id, quantity: 1 }] },
      { 'Idempotency-Key': key },
    );
    expectProblem(res, 400, 'bad-request');
    expect(await stockOf(service, p.id)).toBe(10);
  });
});

describe('GET /orders/:id', () => {
  it('when the order exists, then it answers 200 with the order as created', async () => {
    const p = await makeProduct(service, { priceCents: 300 });
    const created = await makeOrder(service, [{ productId: p.id, quantity: 2 }], 'cust-read');
    const res = await service.api('GET', `/orders/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created);
    expect(res.body).toMatchObject({
      customerId: 'cust-read',
      status: 'PENDING_PAYMENT',
      totalCents: 600,
      paidAt: null,
      closedAt: null,
    });
  });

  it('when the order does not exist, then it answers 404', async () => {
    const res = await service.api('GET', '/orders/987654321');
    expectProblem(res, 404, 'not-found');
  });

  it.each(['abc', '0', '-3', '2.0', '9'.repeat(25)])(
    'when the id is %p (not an order id), then it answers 404',
    async (id) => {
      const res = await service.api('GET', `/orders/${id}`);
      expectProblem(res, 404, 'not-found');
    },
  );
});

describe('POST /orders/:id/pay', () => {
  it('when the order is pending, then it answers 200 PAID with paidAt, and keeps the stock taken', async () => {
    const p = await makeProduct(service, { stock: 5 });
    const order = await makeOrder(service, [{ productId: p.id, quantity: 2 }]);
    const res = await pay(service, order.id, `pay-1-${order.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: order.id,
      status: 'PAID',
      paidAt: expect.stringMatching(ISO_MS),
      closedAt: null,
    });
    expect(await stockOf(service, p.id)).toBe(3);
  });

  it.each<[string, unknown]>([
    ['paymentRef is missing', { amountCents: 1250 }],
    ['paymentRef is empty', { paymentRef: '', amountCents: 1250 }],
    ['paymentRef is a number', { paymentRef: 123, amountCents: 1250 }],
    ['amountCents is missing', { paymentRef: 'r' }],
    ['amountCents is a string', { paymentRef: 'r', amountCents: '1250' }],
    ['amountCents is negative', { paymentRef: 'r', amountCents: -1 }],
  ])('when %s, then it answers 400 and the order stays pending', async (_name, body) => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    const res = await service.api('POST', `/orders/${order.id}/pay`, body);
    expectProblem(res, 400, 'bad-request');
    expect((await service.api('GET', `/orders/${order.id}`)).body.status).toBe('PENDING_PAYMENT');
  });

  it('when there is no body, then it answers 400', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    expectProblem(await service.api('POST', `/orders/${order.id}/pay`), 400, 'bad-request');
  });

  it('when the body is not JSON, then it answers 415', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    expectProblem(
      await rawPost(`/orders/${order.id}/pay`, 'paymentRef=x', 'application/x-www-form-urlencoded'),
      415,
      'unsupported-media-type',
    );
    expect((await service.api('GET', `/orders/${order.id}`)).body.status).toBe('PENDING_PAYMENT');
  });

  it('when the order was cancelled, then it answers 202 REFUND_REQUIRED and stores the payment for a refund', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    expect((await service.api('POST', `/orders/${order.id}/cancel`)).status).toBe(200);
    const res = await pay(service, order.id, `late-${order.id}`);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 202,
      body: { orderId: order.id, paymentRef: `late-${order.id}`, status: 'REFUND_REQUIRED' },
    });
    expect((await service.api('GET', `/orders/${order.id}`)).body.status).toBe('CANCELLED');
  });

  it('when the order was paid with another paymentRef, then it answers 202 REFUND_REQUIRED and keeps the first', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    expect((await pay(service, order.id, `ref-a-${order.id}`)).status).toBe(200);
    const second = await pay(service, order.id, `ref-b-${order.id}`);
    expect(second.status).toBe(202);
    expect((await service.api('GET', `/orders/${order.id}`)).body.paymentRef).toBe(`ref-a-${order.id}`);
  });

  it('when the amount is not the total, then it answers 409 amount-mismatch and stores nothing', async () => {
    const p = await makeProduct(service, { priceCents: 700 });
    const order = await makeOrder(service, [{ productId: p.id, quantity: 2 }]);
    const res = await pay(service, order.id, `short-${order.id}`, { amountCents: 1399 });
    expectProblem(res, 409, 'amount-mismatch');
    expect(res.body).toMatchObject({ totalCents: 1400, amountCents: 1399 });
    expect(await service.db('payments').where({ order_id: order.id })).toEqual([]);
  });

  it('when the order does not exist, then it answers 404', async () => {
    expectProblem(
      await service.api('POST', '/orders/987654321/pay', { paymentRef: 'x', amountCents: 1 }),
      404,
      'not-found',
    );
  });

  it('when the id is not a number, then it answers 404', async () => {
    expectProblem(await service.api('POST', '/orders/abc/pay', { paymentRef: 'x', amountCents: 1 }), 404, 'not-found');
  });
});

describe.each(['cancel', 'ship', 'complete'])('POST /orders/:id/%s', (event) => {
  it('when the order does not exist, then it answers 404', async () => {
    expectProblem(await service.api('POST', `/orders/987654321/${event}`), 404, 'not-found');
  });

  it('when the id is not a number, then it answers 404', async () => {
    expectProblem(await service.api('POST', `/orders/x1/${event}`), 404, 'not-found');
  });

  it('when a body is sent that is not JSON, then it answers 415', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    expectProblem(await rawPost(`/orders/${order.id}/${event}`, 'please', 'text/plain'), 415, 'unsupported-media-type');
    expect((await service.api('GET', `/orders/${order.id}`)).body.status).toBe('PENDING_PAYMENT');
  });
});

describe('POST /orders/:id/cancel, ship, complete', () => {
  it('when a pending order is cancelled, then it answers 200 CANCELLED with closedAt and the stock is back', async () => {
    const p = await makeProduct(service, { stock: 5 });
    const order = await makeOrder(service, [{ productId: p.id, quantity: 5 }]);
    expect(await stockOf(service, p.id)).toBe(0);
    const res = await service.api('POST', `/orders/${order.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'CANCELLED', closedAt: expect.stringMatching(ISO_MS), paidAt: null });
    expect(await stockOf(service, p.id)).toBe(5);
  });

  it('when a cancelled order is cancelled again, then it answers 409 and the stock is not given back twice', async () => {
    const p = await makeProduct(service, { stock: 5 });
    const order = await makeOrder(service, [{ productId: p.id, quantity: 2 }]);
    expect((await service.api('POST', `/orders/${order.id}/cancel`)).status).toBe(200);
    expectProblem(await service.api('POST', `/orders/${order.id}/cancel`), 409, 'illegal-transition');
    expect(await stockOf(service, p.id)).toBe(5);
  });

  it('when a paid order is shipped and then completed, then each answers 200 with the new status', async () => {
    const p = await makeProduct(service, { stock: 5 });
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    await pay(service, order.id, `r-${order.id}`);
    const shipped = await service.api('POST', `/orders/${order.id}/ship`);
    expect(shipped.status).toBe(200);
    expect(shipped.body.status).toBe('SHIPPED');
    const completed = await service.api('POST', `/orders/${order.id}/complete`);
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('COMPLETED');
    expect(await stockOf(service, p.id)).toBe(4);
  });

  it('when a pending order is shipped, then it answers 409 illegal-transition', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    const res = await service.api('POST', `/orders/${order.id}/ship`);
    expectProblem(res, 409, 'illegal-transition');
    expect(res.body.detail).toContain('PENDING_PAYMENT');
  });

  it('when a paid order is completed before shipping, then it answers 409 illegal-transition', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    await pay(service, order.id, `r-${order.id}`);
    expectProblem(await service.api('POST', `/orders/${order.id}/complete`), 409, 'illegal-transition');
  });
});

describe('GET /orders/:id/events', () => {
  it('when an order was created and paid, then it lists both events in order with event, from, to, source and at', async () => {
    const p = await makeProduct(service);
    const order = await makeOrder(service, [{ productId: p.id, quantity: 1 }]);
    await pay(service, order.id, `r-${order.id}`);
    const res = await service.api('GET', `/orders/${order.id}/events`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { event: 'create', from: null, to: 'PENDING_PAYMENT', source: 'http', at: expect.stringMatching(ISO_MS) },
      { event: 'pay', from: 'PENDING_PAYMENT', to: 'PAID', source: 'http', at: expect.stringMatching(ISO_MS) },
    ]);
    expect(await eventsOf(service, order.id)).toHaveLength(2);
  });

  it('when the order does not exist, then it answers 404', async () => {
    expectProblem(await service.api('GET', '/orders/987654321/events'), 404, 'not-found');
  });

  it('when the id is not a number, then it answers 404', async () => {
    expectProblem(await service.api('GET', '/orders/abc/events'), 404, 'not-found');
  });
});

describe('health, readiness, metrics and unknown routes', () => {
  it('when /healthz is asked, then it answers 200', async () => {
    expect((await service.api('GET', '/healthz')).status).toBe(200);
  });

  it('when /readyz is asked with the database up, then it answers 200', async () => {
    const res = await service.api('GET', '/readyz');
    expect(res.status).toBe(200);
  });

  it('when /metrics is asked, then it answers 200 with Prometheus text', async () => {
    const res = await service.api('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/^# HELP \w+ /m);
    expect(res.body).toMatch(/^# TYPE \w+ (counter|gauge|histogram|summary)$/m);
  });

  it.each([
    ['GET', '/nope'],
    ['POST', '/nope'],
    ['DELETE', '/orders/1'],
    ['PUT', '/products/1'],
    ['GET', '/orders'],
  ])('when %s %s is asked (no such route), then it answers 404 problem+json', async (method, path) => {
    const res = await service.api(method, path);
    expectProblem(res, 404, 'not-found');
  });

  it('when a request carries an X-Request-Id, then the response echoes it', async () => {
    const res = await service.api('GET', '/healthz', undefined, { 'X-Request-Id': 'abc-123' });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });
});
