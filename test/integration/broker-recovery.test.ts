import { logger } from '../../src/log';
import { TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { makeOrder, makeProduct, waitForStatus } from '../support/fixtures';
import { eventually, management } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

// Each test takes the service's broker connection away, then proves it came back: the management API shows a
// connection the broker did not have before, and an order created afterwards is closed by the closer (event
// source `timeout`: its timeout message went out through the outbox and came back through order.timeout; the
// sweeper, the only other way, runs hourly here).

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '1s' } });
});
afterEach(() => jest.restoreAllMocks());
afterAll(async () => svc?.destroy());

const guest = decodeURIComponent(
  new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672').username || 'guest',
);
const guestPermissions = () => `/permissions/${encodeURIComponent(svc.vhost)}/${encodeURIComponent(guest)}`;
const setPermissions = (configure: string) =>
  management(guestPermissions(), { method: 'PUT', body: { configure, write: '.*', read: '.*' } });

/**
 * The connection the service consumes order.timeout on: its live connection (the management API may still
 * list a connection that has closed, or not list a new one yet; a consumer is only there while it consumes).
 */
async function closerConnection(other: string[] = []): Promise<string> {
  return eventually(
    async () => {
      const consumers = ((await management(`/consumers/${encodeURIComponent(svc.vhost)}`)) ?? []) as {
        queue: { name: string };
        channel_details: { connection_name: string };
      }[];
      const name = consumers.find((c) => c.queue.name === TIMEOUT_QUEUE)?.channel_details.connection_name;
      return name !== undefined && !other.includes(name) ? name : undefined;
    },
    20_000,
    other.length ? 'the closer to consume on a new connection' : "the closer's connection",
  );
}

/** Has the broker close a connection, as a broker restart would. */
async function closeConnection(name: string): Promise<void> {
  await management(`/connections/${encodeURIComponent(name)}`, { method: 'DELETE' });
}

async function readyz(): Promise<{ status: number; down: string[] }> {
  const res = await svc.api('GET', '/readyz');
  return { status: res.status, down: (res.body as { down?: string[] }).down ?? [] };
}

/** The service is connected again, consumes on a new connection, and closes a new order through the broker. */
async function expectRecovered(closed: string): Promise<void> {
  await eventually(async () => (await readyz()).status === 200, 30_000, 'the service to be ready again');
  await closerConnection([closed]);
  const product = (await makeProduct(svc, { category: 'short', stock: 2 })).id;
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  await waitForStatus(svc, order.id, 'CLOSED', 30_000);
  const events = await svc.db('order_events').where({ order_id: order.id }).orderBy('id');
  expect(events.map((e: { event: string; source: string }) => `${e.event}/${e.source}`)).toEqual([
    'create/http',
    'timeout/timeout',
  ]);
}

test('when the broker closes the service connection, then the service reconnects on a new one and closes an order created afterwards', async () => {
  const connection = await closerConnection();
  await closeConnection(connection);
  await expectRecovered(connection);
});

test('when the broker refuses the service connection for a while, then the service reports the broker down, keeps retrying, and recovers once let in', async () => {
  const connection = await closerConnection();
  // No access to the vhost: connection.open is refused.
  await management(guestPermissions(), { method: 'DELETE' });
  try {
    await closeConnection(connection);
    await eventually(async () => (await readyz()).down.includes('broker'), 15_000, '/readyz to report the broker down');
    // Orders keep being accepted meanwhile; the outbox holds their timeouts until the broker is back.
    const product = (await makeProduct(svc, { category: 'short', stock: 2 })).id;
    const early = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
    await setPermissions('.*');
    await expectRecovered(connection);
    await waitForStatus(svc, early.id, 'CLOSED', 30_000);
    const events = await svc.db('order_events').where({ order_id: early.id, event: 'timeout' });
    expect(events.map((e: { source: string }) => e.source)).toEqual(['timeout']);
  } finally {
    await setPermissions('.*');
  }
});

test('when every new channel is closed by the broker during setup (403), then the service backs off instead of reconnecting in a hot loop, and recovers once it may declare again', async () => {
  const warn = jest.spyOn(logger, 'warn');
  const forcedReconnectDelays = () =>
    warn.mock.calls
      .filter(([message]) => (message as unknown) === 'channel closed while connected; reconnecting')
      .map((call) => ((call as unknown[])[1] as { afterMs: number }).afterMs);

  // No configure permission: declaring the topology on a new channel is refused with 403, which closes the channel.
  const connection = await closerConnection();
  await setPermissions('^$');
  try {
    await closeConnection(connection);
    // The new connection's channels were refused twice; a hot loop would reconnect at once, every time.
    await eventually(async () => forcedReconnectDelays().length >= 2, 20_000, 'two refused reconnects');
    expect(forcedReconnectDelays().slice(0, 2)).toEqual([1000, 2000]);
  } finally {
    await setPermissions('.*');
  }
  await expectRecovered(connection);
});
