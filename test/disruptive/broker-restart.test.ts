import { makeOrder, makeProduct, stockOf, timeoutEvents } from '../support/orders';
import { eventually, sleep } from '../support/scratch';
import { startBrokerApp, stopBrokerApp } from '../support/services-control';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    orderPaymentTimeouts: { default: '15m', short: '3s', eight: '8s' },
  });
});
afterAll(async () => {
  await startBrokerApp().catch(() => undefined);
  await svc?.destroy();
});

async function everyOrderClosed(ids: string[], timeoutMs: number) {
  return eventually(
    async () => {
      const all = await svc.db('orders').whereIn('id', ids);
      return all.every((r: { status: string }) => r.status === 'CLOSED') ? all : undefined;
    },
    timeoutMs,
    `${ids.length} orders to close`,
  );
}

test('when the broker restarts while orders are pending and being created, then every order still closes, once', async () => {
  const product = await makeProduct(svc, { category: 'short', stock: 10_000 });
  const created: string[] = [];
  let creating = true;
  const creator = (async () => {
    while (creating) {
      const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId: product, quantity: 1 }] });
      expect(res.status).toBe(201);
      created.push(res.body.id);
      await sleep(20);
    }
  })();

  await sleep(1000);
  await stopBrokerApp();
  await sleep(2000);
  await startBrokerApp();
  await sleep(1000);
  creating = false;
  await creator;

  expect(created.length).toBeGreaterThan(20);
  await everyOrderClosed(created, 45_000);
  expect(await stockOf(svc, product)).toBe(10_000);
  const events = await svc
    .db('order_events')
    .whereIn('order_id', created)
    .where({ event: 'timeout' })
    .count({ n: '*' })
    .first();
  expect(Number(events!.n)).toBe(created.length);
});

test('when orders are created while the broker is stopped, then they get 201 and close on time once it is back', async () => {
  const product = await makeProduct(svc, { category: 'eight', stock: 100 });
  await stopBrokerApp();
  let orders;
  try {
    orders = await Promise.all(Array.from({ length: 10 }, () => makeOrder(svc, product, 1)));
    expect(await stockOf(svc, product)).toBe(90);
  } finally {
    await startBrokerApp();
  }
  const rows = await everyOrderClosed(
    orders.map((o) => o.id),
    30_000,
  );
  for (const row of rows as { closed_at: Date; expires_at: Date; id: number }[]) {
    const lateness = row.closed_at.getTime() - row.expires_at.getTime();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1000);
    expect(await timeoutEvents(svc, String(row.id))).toBe(1);
  }
  expect(await stockOf(svc, product)).toBe(100);
});
