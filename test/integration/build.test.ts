import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../support/cli';
import {
  deleteVhost,
  dropDatabase,
  eventually,
  mysqlConnection,
  scratchDatabaseUrl,
  scratchVhost,
} from '../support/scratch';
import { spawnNode, type ServiceProcess } from '../support/service-process';

/**
 * The build (`tsconfig.build.json`) run the way the image runs it: plain `node dist/main.js` in a folder laid out
 * like the image's /app (dist, config, bin, package.json, node_modules), with no sources and no tsx in sight.
 */

const ROOT = path.join(__dirname, '..', '..');
let app: string;
let dbUrl: string;
let vhost: string;
let amqpUrl: string;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  app = mkdtempSync(path.join(os.tmpdir(), 'ot-build-'));
  await promisify(execFile)(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      `${app}/dist`,
    ],
    { cwd: ROOT },
  );
  for (const item of ['config', 'bin', 'package.json'])
    cpSync(path.join(ROOT, item), path.join(app, item), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
  dbUrl = scratchDatabaseUrl();
  ({ vhost, url: amqpUrl } = await scratchVhost());
}, 180_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  if (app) rmSync(app, { recursive: true, force: true });
  if (dbUrl) await dropDatabase(dbUrl);
  if (vhost) await deleteVhost(vhost);
});

function startBuilt(args: string[], env: Record<string, string> = {}): ServiceProcess {
  const p = spawnNode(args, {
    cwd: app,
    env: {
      NODE_ENV: 'production',
      // Production requires it; nothing here sends a payment.
      PAYMENT_WEBHOOK_SECRET: 'build-test-secret',
      ADMIN_TOKEN: 'build-test-admin-token',
      LOG_LEVEL: 'info',
      MYSQL_URL: dbUrl,
      AMQP_URL: amqpUrl,
      ...env,
    },
  });
  running.push(p);
  return p;
}

test('when built, then dist holds JavaScript only, the migrations included, and no tests', () => {
  const files = readdirSync(path.join(app, 'dist'), { recursive: true, encoding: 'utf8' });
  expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
  expect(files).toEqual(expect.arrayContaining(['main.js', path.join('cli', 'main.js')]));
  const sources = readdirSync(path.join(ROOT, 'src', 'db', 'migrations')).map((f) => f.replace(/\.ts$/, '.js'));
  expect(readdirSync(path.join(app, 'dist', 'db', 'migrations')).filter((f) => f.endsWith('.js'))).toEqual(sources);
  expect(existsSync(path.join(app, 'dist', 'test'))).toBe(false);
});

test('when the built service runs under plain node, then it migrates, serves, closes a timed-out order and exits 0 on SIGTERM', async () => {
  const svc = startBuilt(['dist/main.js'], {
    HTTP_PORT: '0',
    DELAY_LEVELS: '1s,2s,5s',
    ORDER_PAYMENT_TIMEOUTS: '{"default":"15m","short":"1s"}',
  });
  const base = `http://127.0.0.1:${await svc.port()}`;
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, '/readyz to answer 200');

  const product = await fetch(`${base}/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku: `build-${process.pid}`, name: 'Built', category: 'short', priceCents: 100, stock: 3 }),
  });
  expect(product.status).toBe(201);
  const { id: productId } = (await product.json()) as { id: string };
  const order = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: 'build', items: [{ productId, quantity: 2 }] }),
  });
  expect(order.status).toBe(201);
  const { id: orderId } = (await order.json()) as { id: string };

  // Straight from the database: reading the order through the API would close it itself.
  const conn = await mysqlConnection(dbUrl, true);
  try {
    const closed = await eventually(
      async () => {
        const [rows] = await conn.query('SELECT status FROM orders WHERE id = ?', [orderId]);
        return (rows as { status: string }[])[0]?.status === 'CLOSED' || undefined;
      },
      15_000,
      'the closer to close the order',
    );
    expect(closed).toBe(true);
    const [events] = await conn.query('SELECT source FROM order_events WHERE order_id = ? AND event = ?', [
      orderId,
      'timeout',
    ]);
    expect(events).toEqual([{ source: 'timeout' }]);
  } finally {
    await conn.end();
  }

  expect(await svc.stop()).toBe(0);
  expect(svc.logLines().filter((l) => l.level === 'error')).toEqual([]);
  expect(svc.logLines().map((l) => l.message)).toContain('stopped');
}, 90_000);

test('when the built CLI runs through bin/order-timeout.js, then it exports the committed definitions and sees the schema the build migrated as current', async () => {
  const out = path.join(app, 'definitions.json');
  const exported = startBuilt(['bin/order-timeout.js', 'topology', 'export', '--out', out]);
  expect(await exported.exited).toBe(0);
  expect(readFileSync(out, 'utf8')).toBe(readFileSync(path.join(ROOT, 'rabbitmq-definitions.json'), 'utf8'));

  // The service test above migrated the database with the compiled migrations; the sources agree it is current.
  const built = startBuilt(['bin/order-timeout.js', 'db', 'status']);
  expect({ code: await built.exited, last: built.output().trimEnd().split('\n').pop() }).toEqual({
    code: 0,
    last: `database ${new URL(dbUrl).pathname.slice(1)}: up to date`,
  });
  const fromSources = await runCli(['db', 'status'], { MYSQL_URL: dbUrl });
  expect(fromSources.code).toBe(0);
});
