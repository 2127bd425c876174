import { spawn } from 'node:child_process';
import path from 'node:path';
import { makeOrder, makeProduct } from '../support/orders';
import { eventually, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

const root = path.join(__dirname, '..', '..');

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', short: '1s' } });
});
afterAll(async () => svc?.destroy());

test('when the service gets SIGTERM while timeouts are falling due, then it drains and exits 0, and nothing is lost', async () => {
  // The in-process service creates the orders; a second, real process shares its database and vhost.
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HTTP_PORT: String(port),
      MYSQL_URL: svc.config.mysql.url,
      AMQP_URL: svc.config.amqp.url,
      DELAY_LEVELS: '1s,2s,5s',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  await eventually(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    30_000,
    'the child service to be ready',
  );
  const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string };
  expect(ready.status).toBe('ready');

  const product = await makeProduct(svc, { category: 'short', stock: 1000 });
  const orders = await Promise.all(Array.from({ length: 100 }, () => makeOrder(svc, product)));
  await sleep(1000); // deadlines are passing: both processes' closers have messages in hand
  child.kill('SIGTERM');
  const code = await exited;
  // Shown whole on failure: the exit code with every error the child logged.
  expect({ code, errors: stderr.split('\n').filter((l) => l.includes('"level":"error"')) }).toEqual({
    code: 0,
    errors: [],
  });

  const rows = await eventually(
    async () => {
      const all = await svc.db('orders').whereIn(
        'id',
        orders.map((o) => o.id),
      );
      return all.every((r: { status: string }) => r.status === 'CLOSED') ? all : undefined;
    },
    20_000,
    'every order to close',
  );
  expect(rows).toHaveLength(100);
  const stock = await svc.db('products').where({ id: product }).first();
  expect(stock.stock).toBe(1000);
});
