import { TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { makeOrder, makeProduct, metricValue, stockOf, waitForStatus } from '../support/fixtures';
import { eventually, queueStats } from '../support/scratch';
import { startBeside, startTestService, type TestService } from '../support/service';

// SERVICE_ROLES: a fleet runs API-only processes behind its load balancer and closer-only ones beside them, on one
// database and one vhost. The API process must not consume timeouts; the closer process must not serve orders.

const shared = { orderPaymentTimeouts: { default: '15m', short: '1s' }, delayLevels: '1s,2s' };

let api: TestService;
let closer: Awaited<ReturnType<typeof startBeside>>;
let closerBase: string;

beforeAll(async () => {
  api = await startTestService({ ...shared, roles: 'api' });
  closer = await startBeside(api, { ...shared, roles: 'closer' });
  closerBase = closer.baseUrl;
});

afterAll(async () => {
  await closer?.stop();
  await api?.destroy();
});

test('when one process runs only the API and another only the closer, then an order taken by the first is closed by its timeout in the second, stock back', async () => {
  const product = await makeProduct(api, { category: 'short', stock: 1 });
  const order = await makeOrder(api, [{ productId: product.id, quantity: 1 }]);

  await waitForStatus(api, order.id, 'CLOSED');
  const closes = await api.db('order_events').where({ order_id: order.id, to_status: 'CLOSED' }).select('source');
  expect(closes).toEqual([{ source: 'timeout' }]);
  expect(await stockOf(api, product.id)).toBe(1);

  // One consumer on order.timeout, and it is the closer process's: the API process reports no closer at all.
  // (The management API shows a queue's consumers a moment after they attach.)
  await eventually(
    async () => {
      const queue = await queueStats(api.vhost, TIMEOUT_QUEUE);
      return queue?.consumers === 1 ? true : undefined;
    },
    15_000,
    'order.timeout to show one consumer',
  );
  const scrape = (base: string) => fetch(`${base}/metrics`).then((r) => r.text());
  expect(await scrape(api.baseUrl)).not.toMatch(/^order_timeout_closer_consumers /m);
  expect(await scrape(closerBase)).toMatch(/^order_timeout_closer_consumers 1$/m);
  expect(await metricValue(api, 'order_timeout_orders_created_total')).toBe(1);
});

test('when a closer-only process is asked for the API, then it answers 404 problem+json and still serves health, readiness and metrics', async () => {
  const post = await fetch(`${closerBase}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'c', items: [{ productId: '1', quantity: 1 }] }),
  });
  expect(post.status).toBe(404);
  expect(post.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(((await post.json()) as { type: string }).type).toMatch(/not-found$/);

  for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
    expect({ path, status: (await fetch(closerBase + path)).status }).toEqual({ path, status: 200 });
});
