import { PARKED_QUEUE } from '../../src/messaging/topology';
import { queueDepth } from '../support/amqp';
import { makeOrder, makeProduct, stockOf, timeoutEvents } from '../support/fixtures';
import { eventually, management, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { watchServers } from '../support/shared-services-guard';
import { claimPrivateServers, type PrivateServers } from './support/private-servers';

// The broker that restarts is a private RabbitMQ node; the database is the shared one (nothing breaks it).
let servers: PrivateServers;
let svc: TestService;

beforeAll(async () => {
  servers = await claimPrivateServers();
  await servers.broker.start();
  const { amqpUrl, managementUrl } = servers.broker;
  svc = await startTestService(
    { delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '3s', eight: '8s' } },
    { amqpUrl, managementUrl },
  );
}, 120_000);
afterAll(async () => {
  // The node is thrown away below, so its scratch vhost need not be deleted if it is down.
  await svc?.destroy().catch(() => undefined);
  await servers?.release();
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

/** The service's connections to the node, by name (the management API lists them once it has seen them). */
async function serviceConnections(): Promise<string[]> {
  const all = (await management(`/vhosts/${encodeURIComponent(svc.vhost)}/connections`, {}, servers.broker)) as
    { name: string }[] | undefined;
  return (all ?? []).map((c) => c.name);
}

/** Every order closed once, by the closer (a timeout message through the broker), and nothing parked. */
async function expectClosedOnceThroughTheBroker(ids: string[]): Promise<void> {
  const sources: { source: string; n: number | string }[] = await svc
    .db('order_events')
    .whereIn('order_id', ids)
    .where({ event: 'timeout' })
    .select('source')
    .count({ n: '*' })
    .groupBy('source');
  expect(sources.map((r) => [r.source, Number(r.n)])).toEqual([['timeout', ids.length]]);
  expect(await queueDepth(svc.config.amqp.url, PARKED_QUEUE)).toBe(0);
}

test('when the broker restarts while orders are pending and being created, then every order still closes, once', async () => {
  const product = (await makeProduct(svc, { category: 'short', stock: 10_000 })).id;
  const before = await eventually(
    async () => {
      const names = await serviceConnections();
      return names.length > 0 ? names : undefined;
    },
    15_000,
    'the service connection in the management API',
  );
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
  const moreOrders = (n: number) => {
    const target = created.length + n;
    return eventually(async () => created.length >= target, 20_000, `${n} more orders`);
  };

  await moreOrders(20);
  await servers.broker.stopApp();
  await moreOrders(20); // created while the broker is down: the outbox keeps their timeouts
  await servers.broker.startApp();
  await moreOrders(20);
  creating = false;
  await creator;

  // The service came back on a connection of its own (not one the restart could have spared).
  await eventually(
    async () => (await serviceConnections()).some((name) => !before.includes(name)),
    30_000,
    'a new service connection after the restart',
  );
  await everyOrderClosed(created, 45_000);
  expect(await stockOf(svc, product)).toBe(10_000);
  await expectClosedOnceThroughTheBroker(created);
});

test('when orders are created while the broker is stopped, then they get 201 and close on time once it is back', async () => {
  const product = (await makeProduct(svc, { category: 'eight', stock: 100 })).id;
  await servers.broker.stopApp();
  let orders;
  try {
    orders = await Promise.all(Array.from({ length: 10 }, () => makeOrder(svc, [{ productId: product, quantity: 1 }])));
    expect(await stockOf(svc, product)).toBe(90);
  } finally {
    await servers.broker.startApp();
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
  await expectClosedOnceThroughTheBroker(orders.map((o) => o.id));
});

test("when a broker's application is stopped and started, then the shared-services guard watching it reports it", async () => {
  // The guard npm test keeps on the shared servers, pointed at this node instead.
  const guard = await watchServers(servers.broker);
  try {
    expect(await guard.check()).toEqual([]);
    await servers.broker.stopApp();
    await servers.broker.startApp();
    const problems = await guard.check();
    expect(problems).toEqual([expect.stringMatching(/^RabbitMQ at 127\.0\.0\.1:\d+ closed the guard's connection/)]);
    expect(problems[0]).toMatch(/CONNECTION_FORCED|shutdown/i);
  } finally {
    await guard.close();
  }
});
