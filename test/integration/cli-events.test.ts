import { spawnCli, runCli, type CliProcess } from '../support/cli';
import { makeOrder, makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
let product: string;
beforeAll(async () => {
  svc = await startTestService();
  product = (await makeProduct(svc, { stock: 100 })).id;
});
afterAll(async () => svc?.destroy());

const env = () => ({ AMQP_URL: svc.config.amqp.url, MYSQL_URL: svc.config.mysql.url });

/** Starts `events tail` and waits until its queue is bound (it says so on stderr). */
async function tail(args: string[]): Promise<CliProcess & { stdout: () => string }> {
  const cli = spawnCli(['events', 'tail', ...args], env());
  let out = '';
  let err = '';
  cli.child.stdout!.on('data', (d) => (out += d));
  cli.child.stderr!.on('data', (d) => (err += d));
  await eventually(async () => err.includes('tailing order.events'), 30_000, 'events tail to start');
  return { ...cli, stdout: () => out };
}

test('when an order is created while events tail --json runs, then it prints the event as CloudEvents JSON, and SIGTERM exits 0', async () => {
  const cli = await tail(['--json']);
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  await eventually(async () => cli.stdout().includes(`"subject":"${order.id}"`), 10_000, 'the event on stdout');
  const event = JSON.parse(cli.stdout().trim().split('\n')[0]!);
  expect(event).toEqual({
    specversion: '1.0',
    id: expect.any(String),
    source: 'order-timeout',
    type: 'order.created',
    subject: order.id,
    time: (order as { createdAt?: string }).createdAt,
    sequence: '0000000001',
    datacontenttype: 'application/json',
    data: order,
  });
  cli.child.kill('SIGTERM');
  expect((await cli.result).code).toBe(0);
});

test('when tail is given --type order.cancelled, then it prints one line per cancel (time, type, order, status) and nothing for other types; Ctrl-C exits 0', async () => {
  const cli = await tail(['--type', 'order.cancelled']);
  const kept = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  const cancelled = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  expect((await svc.api('POST', `/orders/${cancelled.id}/cancel`)).status).toBe(200);
  await eventually(async () => cli.stdout().includes(`order ${cancelled.id}`), 10_000, 'the cancel on stdout');
  const lines = cli.stdout().trim().split('\n');
  expect(lines).toEqual([
    expect.stringMatching(new RegExp(`^\\S+Z  order\\.cancelled +order ${cancelled.id}  CANCELLED  #2$`)),
  ]);
  expect(cli.stdout()).not.toContain(`order ${kept.id}`);
  cli.child.kill('SIGINT');
  expect((await cli.result).code).toBe(0);
});

test('when tail is given an unknown --type, then it exits 2 with one line naming the types', async () => {
  const result = await runCli(['events', 'tail', '--type', 'order.shipt'], env());
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n')).toEqual([
    expect.stringContaining('unknown event type order.shipt (one of order.created'),
  ]);
});
