import { PARKED_QUEUE } from '../../src/messaging/topology';
import { queueDepth } from '../support/amqp';
import { makeOrder, makeProduct, stockOf, timeoutEvents } from '../support/orders';
import { eventually, sleep } from '../support/scratch';
import { startDatabase, stopDatabase } from '../support/services-control';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({ delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '2s' } });
});
afterAll(async () => {
  await startDatabase();
  await svc?.destroy();
});

test('when the database is stopped while timeouts fall due, then they are retried and closed once it is back, with nothing parked or lost', async () => {
  const product = await makeProduct(svc, { category: 'short', stock: 100 });
  const orders = await Promise.all(Array.from({ length: 20 }, () => makeOrder(svc, product, 2)));

  await stopDatabase();
  await sleep(5000); // every deadline passes while the database is away
  await startDatabase();

  const rows = await eventually(
    async () => {
      const all = await svc.db('orders').whereIn(
        'id',
        orders.map((o) => o.id),
      );
      return all.every((r: { status: string }) => r.status === 'CLOSED') ? all : undefined;
    },
    40_000,
    'every order to close after the outage',
  );
  expect(rows).toHaveLength(20);
  expect(await stockOf(svc, product)).toBe(100);
  for (const o of orders) expect(await timeoutEvents(svc, o.id)).toBe(1);
  expect(await queueDepth(svc.config.amqp.url, PARKED_QUEUE)).toBe(0);
});
