import { spawnService, type ServiceChild } from '../support/child-service';
import { makeOrder, makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
let child: ServiceChild | undefined;
beforeAll(async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', short: '1s' } });
});
afterAll(async () => {
  await child?.kill();
  await svc?.destroy();
});

test('when the service gets SIGTERM while timeouts are falling due, then it drains and exits 0, and nothing is lost', async () => {
  // The in-process service creates the orders; a second, real process shares its database and vhost.
  child = await spawnService({
    NODE_ENV: 'test',
    MYSQL_URL: svc.config.mysql.url,
    AMQP_URL: svc.config.amqp.url,
    DELAY_LEVELS: '1s,2s,5s',
  });
  const ready = (await (await fetch(`${child.baseUrl}/readyz`)).json()) as { status: string };
  expect(ready.status).toBe('ready');

  const product = (await makeProduct(svc, { category: 'short', stock: 1000 })).id;
  const orders = await Promise.all(
    Array.from({ length: 100 }, () => makeOrder(svc, [{ productId: product, quantity: 1 }])),
  );
  const ids = orders.map((o) => o.id);
  // Deadlines are passing: the first orders are closed, the closers of both processes have the rest in hand.
  await eventually(
    async () =>
      Number((await svc.db('orders').whereIn('id', ids).where({ status: 'CLOSED' }).count({ n: '*' }))[0]?.n) > 0,
    10_000,
    'the first orders to close',
  );
  const { code } = await child.kill('SIGTERM');
  // Shown whole on failure: the exit code with every error the child logged.
  expect({
    code,
    errors: child
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":"error"')),
  }).toEqual({
    code: 0,
    errors: [],
  });

  const rows = await eventually(
    async () => {
      const all = await svc.db('orders').whereIn('id', ids);
      return all.every((r: { status: string }) => r.status === 'CLOSED') ? all : undefined;
    },
    20_000,
    'every order to close',
  );
  expect(rows).toHaveLength(100);
  const stock = await svc.db('products').where({ id: product }).first();
  expect(stock.stock).toBe(1000);
});
