import { PARKED_QUEUE } from '../../src/messaging/topology';
import { queueDepth } from '../support/amqp';
import { makeOrder, makeProduct, metricValue, stockOf, timeoutEvents } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { watchServers } from '../support/shared-services-guard';
import { claimPrivateServers, type PrivateServers } from './support/private-servers';

// The database that goes away is a private MariaDB; the broker is the shared one (nothing breaks it).
let servers: PrivateServers;
let svc: TestService;

beforeAll(async () => {
  servers = await claimPrivateServers();
  await servers.database.start();
  svc = await startTestService(
    { delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '2s' } },
    { mysqlUrl: servers.database.url('ot_disruptive') },
  );
}, 120_000);
afterAll(async () => {
  await servers?.database.start().catch(() => undefined); // up again if a test failed while it was down
  await svc?.destroy();
  await servers?.release();
});

test('when the database is stopped while timeouts fall due, then they are retried and closed once it is back, with nothing parked or lost', async () => {
  const product = (await makeProduct(svc, { category: 'short', stock: 100 })).id;
  const orders = await Promise.all(
    Array.from({ length: 20 }, () => makeOrder(svc, [{ productId: product, quantity: 2 }])),
  );
  const retriesBefore = await metricValue(svc, 'order_timeout_timeouts_rescheduled_total', { why: 'retry' });

  await servers.database.stop();
  // Every deadline passes while the database is away: the closer fails on each timeout and sends it on to a
  // delay level to try again later (at least once per order).
  await eventually(
    async () =>
      (await metricValue(svc, 'order_timeout_timeouts_rescheduled_total', { why: 'retry' })) - retriesBefore >= 20,
    20_000,
    'the closer to defer every timeout',
  );
  await servers.database.start();

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

test('when a database is shut down and started again, then the shared-services guard watching it reports the restart', async () => {
  // The guard npm test keeps on the shared servers, pointed at this server instead.
  const guard = await watchServers({ mysqlUrl: servers.database.url('mysql') });
  try {
    expect(guard.unwatched).toEqual([]);
    expect(await guard.check()).toEqual([]);
    await servers.database.stop();
    await servers.database.start();
    expect(await guard.check()).toEqual([
      expect.stringMatching(/^MariaDB at 127\.0\.0\.1:\d+ closed the guard's connection during the run/),
    ]);
  } finally {
    await guard.close();
  }
});
