import { parseDelayLevels } from '../../src/domain/delay-plan';
import { definitionsJson } from '../../src/messaging/definitions';
import { buildTopology } from '../../src/messaging/topology';
import { runCli } from '../support/cli';
import { topologyVhost } from '../support/parked';
import { management } from '../support/scratch';

const vhosts: { destroy(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(vhosts.map((v) => v.destroy()));
});
async function freshVhost() {
  const v = await topologyVhost();
  vhosts.push(v);
  return v;
}

describe('topology check', () => {
  test('when the vhost was declared by the code, then topology check exits 0', async () => {
    const { vhost, url } = await freshVhost();
    const res = await runCli(['topology', 'check'], { AMQP_URL: url });
    expect({ code: res.code, stdout: res.stdout, stderr: res.stderr }).toEqual({
      code: 0,
      stdout: `topology matches the code (vhost ${vhost})\n`,
      stderr: '',
    });
    const json = await runCli(['topology', 'check', '--json'], { AMQP_URL: url });
    expect(JSON.parse(json.stdout)).toEqual({ vhost, ok: true, differences: [] });
  });

  test('when a delay queue is deleted by hand, then topology check exits 1 naming the queue', async () => {
    const { vhost, url } = await freshVhost();
    await management(`/queues/${encodeURIComponent(vhost)}/order.delay.2s`, { method: 'DELETE' });

    const res = await runCli(['topology', 'check'], { AMQP_URL: url });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('queue order.delay.2s: missing');
    expect(res.stdout).toContain('binding order.delay -> order.delay.2s (2s): missing');

    const json = await runCli(['topology', 'check', '--json'], { AMQP_URL: url });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      vhost,
      ok: false,
      differences: [
        { object: 'queue order.delay.2s', problem: 'missing' },
        { object: 'binding order.delay -> order.delay.2s (2s)', problem: 'missing' },
      ],
    });
  });

  test('when the management API is unreachable, then topology check exits 2 with one line on stderr', async () => {
    const { url } = await freshVhost();
    const res = await runCli(['topology', 'check'], { AMQP_URL: url, RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:1' });
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^order-timeout: cannot read the broker .*management API unreachable/),
    ]);
  });
});

test('topology export --out - writes the definitions of the configured topology', async () => {
  const res = await runCli(['topology', 'export', '--out', '-']);
  expect(res.code).toBe(0);
  // NODE_ENV=test: config/test.json sets the delay levels.
  expect(res.stdout).toBe(definitionsJson(buildTopology({ levels: parseDelayLevels('1s,2s,5s'), deliveryLimit: 5 })));
});

describe('--help', () => {
  const commands = [
    [],
    ['dead-letters'],
    ['dead-letters', 'list'],
    ['dead-letters', 'replay'],
    ['topology'],
    ['topology', 'export'],
    ['topology', 'check'],
    ['sweep'],
    ['audit'],
  ];
  test.each(commands.map((c) => [c.join(' ') || '(none)', c]))(
    'order-timeout %s --help exits 0 with usage',
    async (_name, args) => {
      const res = await runCli([...args, '--help'], {
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:1/x',
        MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
      });
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`^Usage: order-timeout${args.length ? ` ${args.join(' ')}` : ''} `));
    },
  );
});
