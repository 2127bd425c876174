import { logger } from '../../src/log';
import { makeOrder, makeProduct, waitForStatus } from '../support/orders';
import { eventually, management, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '1s' } });
});
afterAll(async () => {
  jest.restoreAllMocks();
  await svc?.destroy();
});

const guest = decodeURIComponent(
  new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672').username || 'guest',
);
const setPermissions = (configure: string) =>
  management(`/permissions/${encodeURIComponent(svc.vhost)}/${encodeURIComponent(guest)}`, {
    method: 'PUT',
    body: { configure, write: '.*', read: '.*' },
  });

async function closeServiceConnections(): Promise<void> {
  const connections = (await management(`/vhosts/${encodeURIComponent(svc.vhost)}/connections`)) as { name: string }[];
  for (const c of connections) await management(`/connections/${encodeURIComponent(c.name)}`, { method: 'DELETE' });
}

test('when every new channel is closed by the broker during setup (403), then the service backs off instead of reconnecting in a hot loop, and recovers once it may declare again', async () => {
  const warn = jest.spyOn(logger, 'warn');
  const forcedReconnects = () =>
    warn.mock.calls.filter(([message]) => (message as unknown) === 'channel closed while connected; reconnecting')
      .length;

  // No configure permission: declaring the topology on a new channel is refused with 403, which closes the channel.
  await setPermissions('^$');
  await closeServiceConnections();
  await sleep(5000);
  // Backing off (1 s, 2 s, …) allows a handful in 5 s; a hot loop makes hundreds.
  expect(forcedReconnects()).toBeLessThanOrEqual(4);

  await setPermissions('.*');
  await eventually(
    async () => ((await svc.api('GET', '/readyz')).status === 200 ? true : undefined),
    30_000,
    'the service to be ready again',
  );
  const product = await makeProduct(svc, { category: 'short', stock: 2 });
  const order = await makeOrder(svc, product);
  await waitForStatus(svc, order.id, 'CLOSED', 30_000);
});
