import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDelayLevels } from '../../src/domain/delay-plan';
import { definitionsJson, hashPassword, LOCAL_USERS, SERVICE_PERMISSIONS } from '../../src/messaging/definitions';
import { buildTopology } from '../../src/messaging/topology';
import { runCli } from '../support/cli';
import { topologyVhost } from '../support/parked';
import { management } from '../support/scratch';
import { spawnNode } from '../support/service-process';

const ROOT = path.join(__dirname, '..', '..');

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

describe('topology export users', () => {
  const exported = async (args: string[]) => {
    const res = await runCli(['topology', 'export', '--out', '-', ...args]);
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    return JSON.parse(res.stdout) as {
      users: { name: string; password_hash: string; tags: string[] }[];
      permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
    };
  };
  /** Whether a rabbit_password_hashing_sha256 hash is of `password`. */
  const hashes = (hash: string, password: string) =>
    hashPassword(password, Buffer.from(hash, 'base64').subarray(0, 4)) === hash;

  test('when run without user options, then the service user has no tags and order.* permissions, and the administrator has the local passwords', async () => {
    const defs = await exported([]);
    expect(defs.users.map((u) => [u.name, u.tags])).toEqual([
      ['order-timeout', []],
      ['admin', ['administrator']],
    ]);
    expect(hashes(defs.users[0]!.password_hash, LOCAL_USERS.service.password)).toBe(true);
    expect(hashes(defs.users[1]!.password_hash, LOCAL_USERS.admin.password)).toBe(true);
    expect(defs.permissions).toEqual([
      { user: 'order-timeout', vhost: '/', ...SERVICE_PERMISSIONS },
      { user: 'admin', vhost: '/', configure: '.*', write: '.*', read: '.*' },
    ]);
  });

  test('when given users, passwords and a vhost, then each password is hashed with a salt of its own', async () => {
    const args = ['--vhost', 'shop', '--user', 'svc', '--password', 's3cret', '--admin-user', 'ops'];
    const first = await exported([...args, '--admin-password', 'ops-pw']);
    const second = await exported([...args, '--admin-password', 'ops-pw']);
    expect(first.users.map((u) => u.name)).toEqual(['svc', 'ops']);
    expect(hashes(first.users[0]!.password_hash, 's3cret')).toBe(true);
    expect(hashes(first.users[1]!.password_hash, 'ops-pw')).toBe(true);
    expect(second.users[0]!.password_hash).not.toBe(first.users[0]!.password_hash);
    expect(first.permissions.map((p) => [p.user, p.vhost])).toEqual([
      ['svc', 'shop'],
      ['ops', 'shop'],
    ]);
  });

  test('when given a password hash and --no-admin, then the hash is used as is and there is no administrator', async () => {
    const hash = hashPassword('made-elsewhere');
    const defs = await exported(['--password-hash', hash, '--no-admin']);
    expect(defs.users).toEqual([expect.objectContaining({ name: 'order-timeout', password_hash: hash, tags: [] })]);
    expect(defs.permissions.map((p) => p.user)).toEqual(['order-timeout']);
  });

  test.each([
    [['--password-hash', 'not-a-hash'], /^order-timeout: --password-hash: not a rabbit_password_hashing_sha256 hash/],
    [
      ['--password', 'a', '--password-hash', hashPassword('a')],
      /^order-timeout: --password and --password-hash: give one/,
    ],
    [['--user', 'someone'], /^order-timeout: --user someone: give its --password or --password-hash$/],
    [['--admin-user', 'ops'], /^order-timeout: --admin-user ops: give its --admin-password or --admin-password-hash$/],
    [
      ['--admin-user', 'order-timeout', '--admin-password', 'x'],
      /^order-timeout: the service and the administrator are both order-timeout$/,
    ],
  ])('when given %j, then it exits 2 with one line saying what is wrong', async (args, message) => {
    const res = await runCli(['topology', 'export', '--out', '-', ...args]);
    expect({ code: res.code, stdout: res.stdout }).toEqual({ code: 2, stdout: '' });
    expect(res.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
  });
});

test('when the working directory has a .env, then the CLI reads it, and variables already set win', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ot-dotenv-'));
  try {
    writeFileSync(path.join(dir, '.env'), 'DELAY_LEVELS=3s,9s\n');
    const exportIn = async (env: Record<string, string | undefined>) => {
      const cli = spawnNode(
        [
          '--require',
          require.resolve('tsx/cjs'),
          path.join(ROOT, 'src', 'cli', 'main.ts'),
          'topology',
          'export',
          '--out',
          '-',
        ],
        { cwd: dir, env: { ORDER_TIMEOUT_ENV_FILE: undefined, ...env } },
      );
      expect(await cli.exited).toBe(0);
      return (JSON.parse(cli.output()) as { queues: { name: string }[] }).queues.map((q) => q.name);
    };
    expect(await exportIn({})).toEqual(expect.arrayContaining(['order.delay.3s', 'order.delay.9s']));
    expect(await exportIn({ DELAY_LEVELS: '4s' })).toContain('order.delay.4s');
    // The test suite's own setting: no env file at all.
    expect(await exportIn({ ORDER_TIMEOUT_ENV_FILE: '' })).toContain('order.delay.1s');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
