import { runCli } from '../support/cli';
import { expectProblem, makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

const TOKEN = 'admin-token-for-tests';
const AUTH = { authorization: `Bearer ${TOKEN}` };
let svc: TestService;
let fresh: string;

beforeAll(async () => {
  svc = await startTestService({
    admin: { token: TOKEN },
    orderPaymentTimeouts: { default: '15m', fresh: '5m' },
    policy: { pollInterval: '200ms' },
  });
  fresh = (await makeProduct(svc, { category: 'fresh' })).id;
});
afterAll(async () => svc?.destroy());

const windowOfNewOrder = async () => {
  const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId: fresh, quantity: 1 }] });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, windowMs: Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt) };
};
const put = (body: unknown, headers: Record<string, string> = AUTH) => svc.api('PUT', '/admin/policy', body, headers);
const valid = { paymentWindows: { default: '15m', fresh: '10m' }, autoCompleteAfter: '3d' };

describe('admin auth', () => {
  test.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token with another scheme', { authorization: `Basic ${TOKEN}` }],
    ['a token that is a prefix of the right one', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ])('when a request carries %s, then every admin route answers 401 problem+json', async (_n, headers) => {
    for (const [method, path] of [
      ['GET', '/admin/policy'],
      ['PUT', '/admin/policy'],
      ['GET', '/admin/policy/history'],
    ] as const) {
      const res = await svc.api(method, path, method === 'PUT' ? valid : undefined, headers);
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await svc.api('GET', '/admin/policy/history', undefined, AUTH)).body).not.toContainEqual(
      expect.objectContaining({ paymentWindows: valid.paymentWindows, via: 'http' }),
    );
  });

  test('when the right token is sent, then the policy in force is version 1, seeded from the environment', async () => {
    const res = await svc.api('GET', '/admin/policy', undefined, AUTH);
    expect(res.status).toBe(200);
    const [first] = (await svc.api('GET', '/admin/policy/history', undefined, AUTH)).body.slice(-1);
    expect(first).toEqual({
      version: 1,
      paymentWindows: { default: '15m', fresh: '5m' },
      paymentReminders: {},
      autoCompleteAfter: '7d',
      changedAt: expect.any(String),
      changedBy: 'environment',
      via: 'seed',
    });
  });

  test('when no ADMIN_TOKEN is configured, then the admin routes answer 401 saying the admin API is off', async () => {
    const off = await startTestService();
    try {
      const res = await off.api('GET', '/admin/policy', undefined, { authorization: 'Bearer anything' });
      expectProblem(res, 401, 'unauthorized');
      expect(res.body.detail).toMatch(/ADMIN_TOKEN/);
    } finally {
      await off.destroy();
    }
  });
});

describe('changing the policy', () => {
  test.each<[string, unknown, number, string]>([
    [
      'a malformed duration',
      { ...valid, paymentWindows: { default: '15m', fresh: 'soon' } },
      422,
      'paymentWindows.fresh',
    ],
    ['no default window', { ...valid, paymentWindows: { fresh: '10m' } }, 422, 'paymentWindows.default'],
    [
      'a window over the largest supported',
      { ...valid, paymentWindows: { default: '31d' } },
      422,
      'paymentWindows.default',
    ],
    [
      'a reminder not shorter than its window',
      { ...valid, paymentReminders: { fresh: '10m' } },
      422,
      'paymentReminders.fresh',
    ],
    ['a zero auto-complete', { ...valid, autoCompleteAfter: '0s' }, 422, 'autoCompleteAfter'],
    ['an unknown member', { ...valid, paymentWindow: {} }, 400, '(body)'],
    ['windows as numbers', { ...valid, paymentWindows: { default: 900000 } }, 400, 'paymentWindows.default'],
    ['an array', [valid], 400, '(body)'],
    ['no autoCompleteAfter', { paymentWindows: { default: '15m' } }, 400, 'autoCompleteAfter'],
  ])(
    'when the policy has %s, then the answer is %d naming it, and nothing is stored',
    async (_n, body, status, path) => {
      const before = (await svc.api('GET', '/admin/policy', undefined, AUTH)).body.version;
      const res = await put(body);
      expectProblem(res, status, status === 422 ? 'invalid-policy' : 'bad-request');
      expect(res.body.errors).toContainEqual(expect.objectContaining({ path }));
      expect((await svc.api('GET', '/admin/policy', undefined, AUTH)).body.version).toBe(before);
    },
  );

  test('when the body is not JSON, then 400; when it is not application/json, then 415', async () => {
    expectProblem(await put('{"paymentWindows":', AUTH), 400, 'bad-request');
    expectProblem(
      await svc.api('PUT', '/admin/policy', 'x=1', { ...AUTH, 'content-type': 'text/plain' }),
      415,
      'unsupported-media-type',
    );
  });

  test('when the fresh window changes to 10m, then new orders get it and orders created before keep theirs', async () => {
    const before = await windowOfNewOrder();
    const res = await put(valid, { ...AUTH, 'x-actor': 'alice' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({ ...valid, paymentReminders: {}, changedBy: 'alice', via: 'http' }),
    );
    // The instance that took the PUT applies it at once.
    expect((await windowOfNewOrder()).windowMs).toBe(600_000);
    const old = await svc.api('GET', `/orders/${before.id}`);
    expect(Date.parse(old.body.expiresAt) - Date.parse(old.body.createdAt)).toBe(before.windowMs);
  });

  test('when 10 changes are PUT at once, then all are stored, and the last stored is in force', async () => {
    const start = (await svc.api('GET', '/admin/policy', undefined, AUTH)).body.version as number;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        put({ ...valid, paymentWindows: { default: '15m', fresh: `${i + 1}m` } }, { ...AUTH, 'x-actor': `op-${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const versions = results.map((r) => r.body.version as number).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => start + 1 + i));
    const history = (await svc.api('GET', '/admin/policy/history?limit=10', undefined, AUTH)).body;
    expect(history.map((h: { changedBy: string }) => h.changedBy).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `op-${i}`).sort(),
    );
    const last = results.find((r) => r.body.version === versions[9])!.body;
    expect((await svc.api('GET', '/admin/policy', undefined, AUTH)).body).toEqual(last);
    await eventually(
      async () => (await windowOfNewOrder()).windowMs === Number.parseInt(last.paymentWindows.fresh, 10) * 60_000,
      5_000,
      'the last change to be in force',
    );
  });
});

describe('order-timeout policy', () => {
  const env = () => ({ MYSQL_URL: svc.config.mysql.url, AMQP_URL: svc.config.amqp.url });

  test('when set from the CLI, then the running service applies it to new orders within 5 s, and show prints it', async () => {
    const set = await runCli(['policy', 'set', '--payment-window', 'fresh=7m', '--actor', 'bob', '--json'], env());
    expect(set.code).toBe(0);
    const stored = JSON.parse(set.stdout);
    expect(stored).toEqual(expect.objectContaining({ changedBy: 'bob', via: 'cli' }));
    expect(stored.paymentWindows.fresh).toBe('7m');
    await eventually(async () => (await windowOfNewOrder()).windowMs === 420_000, 5_000, 'the CLI change to apply');
    const show = await runCli(['policy', 'show', '--json'], env());
    expect(JSON.parse(show.stdout)).toEqual(stored);
    const text = await runCli(['policy', 'show'], env());
    expect(text.stdout).toMatch(new RegExp(`^policy version ${stored.version}, .* by bob \\(cli\\)`));
    expect(text.stdout).toMatch(/payment window +fresh +7m/);
  });

  test.each([
    [['policy', 'set', '--payment-window', 'fresh=soon'], /invalid policy: paymentWindows\.fresh/],
    [['policy', 'set', '--payment-window', 'fresh'], /--payment-window must be category=duration/],
    [['policy', 'set'], /nothing to set/],
    [['policy', 'set', '--reminder', 'default=1h'], /paymentReminders\.default: 1h must be shorter/],
  ])('when %j, then it exits 2 with one line and stores nothing', async (args, message) => {
    const before = (await svc.api('GET', '/admin/policy', undefined, AUTH)).body.version;
    const res = await runCli(args, env());
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    expect((await svc.api('GET', '/admin/policy', undefined, AUTH)).body.version).toBe(before);
  });
});
