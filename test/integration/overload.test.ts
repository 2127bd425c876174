import { connectDatabase } from '../../src/db/connect';
import { eventually } from '../support/scratch';
import { expectProblem, makeOrder, makeProduct, metricValue, orderRow, stockOf } from '../support/fixtures';
import { OpenApiChecker } from '../support/openapi-checker';
import { startTestService, type TestService } from '../support/service';

const STOCK = 1_000;

describe('overload', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ http: { maxInFlight: 2, maxQueueWait: '50ms' } });
  });
  afterAll(async () => service?.destroy());

  test('when more creates arrive at once than the service admits, then each is answered 201 or 503 with Retry-After, and only the 201s took stock', async () => {
    const product = await makeProduct(service, { stock: STOCK });
    const responses = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        service.api('POST', '/orders', { customerId: `c-${i}`, items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    const created = responses.filter((r) => r.status === 201);
    const shed = responses.filter((r) => r.status !== 201);
    expect(shed.length).toBeGreaterThan(0);
    const checker = new OpenApiChecker((await service.api('GET', '/openapi.json')).body);
    for (const r of shed) {
      expectProblem(r, 503, 'overloaded');
      expect(r.headers.get('retry-after')).toBe('1');
      checker.checkResponse('post', '/orders', r);
    }
    for (const r of created) expect((await orderRow(service, r.body.id)).status).toBe('PENDING_PAYMENT');
    expect(await stockOf(service, product.id)).toBe(STOCK - created.length);
    expect(await service.db('orders').count({ n: '*' }).first()).toEqual({ n: created.length });
    expect(await metricValue(service, 'order_timeout_http_requests_shed_total')).toBe(shed.length);
  });

  test('when the API is saturated, then health, readiness and metrics still answer', async () => {
    const product = await makeProduct(service, { stock: STOCK });
    const flood = Promise.all(
      Array.from({ length: 40 }, () =>
        service.api('POST', '/orders', { customerId: 'c', items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    const [health, ready, metrics] = await Promise.all([
      service.api('GET', '/healthz'),
      service.api('GET', '/readyz'),
      service.api('GET', '/metrics'),
    ]);
    expect([health.status, ready.status, metrics.status]).toEqual([200, 200, 200]);
    await flood;
  });
});

describe('background pool', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      mysql: { poolSize: 1, backgroundPoolSize: 2 },
      closer: { concurrency: 1, drainLanes: 0 },
      orderPaymentTimeouts: { default: '1s' },
    });
  });
  afterAll(async () => service?.destroy());

  test("when every connection of the API's pool is taken, then due orders still close on time", async () => {
    const product = await makeProduct(service, { stock: 10 });
    const order = await makeOrder(service, [{ productId: product.id, quantity: 2 }]);
    // Takes the API pool's only connection and keeps it, as a flood of requests would: the closer must not need it.
    const client = service.db.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): void };
    const taken = await client.acquireConnection();
    const observer = connectDatabase({ url: service.config.mysql.url, poolSize: 1 });
    try {
      const closed = await eventually(
        async () => {
          const row = await observer('orders').where({ id: order.id }).first('status', 'closed_at', 'expires_at');
          return row.status === 'CLOSED' ? row : undefined;
        },
        15_000,
        'the order to close while the API pool is taken',
      );
      const product2 = await observer('products').where({ id: product.id }).first('stock');
      expect(Number(product2.stock)).toBe(10);
      // Closed by its timeout message, not by a sweep: the lateness is that of the closer.
      expect(closed.closed_at.getTime() - closed.expires_at.getTime()).toBeLessThan(5_000);
    } finally {
      client.releaseConnection(taken);
      await observer.destroy();
    }
  });
});

describe('clients that give up', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ http: { maxInFlight: 1, maxQueueWait: '10s' } });
  });
  afterAll(async () => service?.destroy());

  test('when clients waiting in line disconnect, then their places are freed and later requests are served', async () => {
    const product = await makeProduct(service, { stock: STOCK });
    const body = JSON.stringify({ customerId: 'c', items: [{ productId: product.id, quantity: 1 }] });
    // Many clients that give up almost at once, while the single slot is busy with their neighbours.
    await Promise.all(
      Array.from({ length: 30 }, () =>
        fetch(`${service.baseUrl}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(5),
        }).catch(() => undefined),
      ),
    );
    // Were any slot lost to them, these would wait in line for ever (10 s) and fail.
    const later = await Promise.all(
      Array.from({ length: 5 }, () => makeOrder(service, [{ productId: product.id, quantity: 1 }])),
    );
    expect(later.map((o) => o.status)).toEqual(Array(5).fill('PENDING_PAYMENT'));
  });
});
