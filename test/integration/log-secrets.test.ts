import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { listeningPort } from '../support/child-service';
import {
  deleteVhost,
  dropDatabase,
  eventually,
  management,
  scratchDatabaseUrl,
  scratchVhost,
} from '../support/scratch';
import { publishEvents, startReceiver, testEvent } from '../support/webhooks';

/**
 * Security basics (issue 6): the service never logs a password or a URL's credentials. The service runs as a
 * child process (production config, LOG_LEVEL=silly) with a MariaDB user and a RabbitMQ user of its own that
 * have passwords; everything it writes to stdout and stderr is searched for them, across start-up, traffic,
 * a broker connection killed under it, SIGTERM, and start-ups with a wrong broker and a wrong database password.
 */

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const tag = randomBytes(4).toString('hex');
// Characters that URLs must percent-encode, so both the raw and the encoded spelling are looked for.
const DB_PASSWORD = `dbPw-${tag}-@s3cr3t`;
const MQ_PASSWORD = `mqPw-${tag}-@s3cr3t`;
const WRONG_MQ_PASSWORD = `wrongMq-${tag}-pw`;
const WRONG_DB_PASSWORD = `wrongDb-${tag}-pw`;
const WEBHOOK_SECRET = `whsec-${tag}-s3cr3t`;
// Outgoing webhooks: their signing key, and a password in a webhook URL.
const HOOK_KEY = randomBytes(32).toString('base64');
const HOOK_PASSWORD = `hookPw-${tag}-@s3cr3t`;
const ADMIN_TOKEN = `admin-${tag}-t0k3n`;
const SECRETS = [
  DB_PASSWORD,
  MQ_PASSWORD,
  WRONG_MQ_PASSWORD,
  WRONG_DB_PASSWORD,
  WEBHOOK_SECRET,
  HOOK_KEY,
  HOOK_PASSWORD,
  ADMIN_TOKEN,
].flatMap((p) => [p, encodeURIComponent(p), Buffer.from(p).toString('base64')]);
const DB_USER = `ot_log_${tag}`;
const MQ_USER = `ot-log-${tag}`;

let dbUrl: string;
let vhost: string;
let amqpUrl: string;
let root: mysql.Connection;
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): Run {
  const child = spawn(TSX, ['src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'silly',
      HTTP_PORT: '0',
      SWEEP_INTERVAL: '1s',
      PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const withCredentials = (url: string, user: string, password: string) => {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
};

function expectNoSecret(output: string): void {
  for (const secret of SECRETS) {
    if (output.includes(secret))
      throw new Error(
        `the log contains a password (${secret.slice(0, 8)}…):\n${output
          .split('\n')
          .filter((l) => l.includes(secret))
          .join('\n')}`,
      );
  }
}

/** Resolves to 'timeout' after `ms`, without keeping the process alive. */
const timeoutAfter = (ms: number) =>
  new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());

const logged = (r: Run, message: string) =>
  eventually(async () => r.output().includes(`"message":"${message}"`), 20_000, `log line "${message}"`);

async function stop(r: Run): Promise<number | null> {
  r.child.kill('SIGTERM');
  return Promise.race([r.exited, timeoutAfter(25_000)]).then((code) => {
    if (code === 'timeout') throw new Error('the service did not exit within 25 s of SIGTERM');
    return code;
  });
}

beforeAll(async () => {
  dbUrl = scratchDatabaseUrl();
  ({ vhost, url: amqpUrl } = await scratchVhost());
  const base = new URL(dbUrl);
  root = await mysql.createConnection({
    host: base.hostname,
    port: Number(base.port || 3306),
    user: decodeURIComponent(base.username || 'root'),
    password: decodeURIComponent(base.password),
  });
  const database = base.pathname.slice(1);
  for (const host of ['%', 'localhost']) {
    await root.query('CREATE USER ?@? IDENTIFIED BY ?', [DB_USER, host, DB_PASSWORD]);
    await root.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [DB_USER, host]);
  }
  await management(`/users/${encodeURIComponent(MQ_USER)}`, {
    method: 'PUT',
    body: { password: MQ_PASSWORD, tags: '' },
  });
  await management(`/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(MQ_USER)}`, {
    method: 'PUT',
    body: { configure: '.*', write: '.*', read: '.*' },
  });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (root) {
    for (const host of ['%', 'localhost']) await root.query('DROP USER IF EXISTS ?@?', [DB_USER, host]);
    await root.end();
  }
  await management(`/users/${encodeURIComponent(MQ_USER)}`, { method: 'DELETE' });
  if (dbUrl) await dropDatabase(dbUrl);
  if (vhost) await deleteVhost(vhost);
});

describe('the service never logs a password or URL credentials', () => {
  it('when it starts, serves, fails a webhook, loses its broker connection and drains, then no password appears in its output', async () => {
    const receiver = await startReceiver(() => 500);
    const r = run({
      MYSQL_URL: withCredentials(dbUrl, DB_USER, DB_PASSWORD),
      AMQP_URL: withCredentials(amqpUrl, MQ_USER, MQ_PASSWORD),
      WEBHOOK_URLS: withCredentials(receiver.url, 'hook-user', HOOK_PASSWORD),
      WEBHOOK_SECRET: `whsec_${HOOK_KEY}`,
    });
    await logged(r, 'listening');
    await logged(r, 'broker connected');
    // A webhook attempt that fails is logged with its URL; the receiver got the password as basic auth.
    await publishEvents(amqpUrl, [testEvent('created')]);
    await logged(r, 'webhook delivery failed; retrying');
    expect(receiver.received[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from(`hook-user:${HOOK_PASSWORD}`).toString('base64')}`,
    );
    await receiver.close();
    const port = listeningPort(r.output());
    const base = `http://127.0.0.1:${port}`;

    // Traffic: a product, an order, a rejected request, readiness.
    const product = await fetch(`${base}/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: `log-${tag}`, name: 'p', category: 'general', priceCents: 1, stock: 5 }),
    });
    expect(product.status).toBe(201);
    const { id } = (await product.json()) as { id: string };
    const order = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 'c', items: [{ productId: id, quantity: 1 }] }),
    });
    expect(order.status).toBe(201);
    expect((await fetch(`${base}/orders/x/pay`, { method: 'POST' })).status).toBe(401); // not signed
    const { id: orderId, totalCents } = (await order.json()) as { id: string; totalCents: number };
    const payment = JSON.stringify({ paymentRef: `log-${tag}`, amountCents: totalCents });
    const paid = await fetch(`${base}/orders/${orderId}/pay`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-signature': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(payment).digest('hex')}`,
      },
      body: payment,
    });
    expect(paid.status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // The broker drops the service's connections (as on a broker restart): it logs the loss and reconnects.
    const connections = await eventually(
      async () => {
        const all = ((await management(`/vhosts/${encodeURIComponent(vhost)}/connections`)) ?? []) as {
          name: string;
        }[];
        return all.length > 0 ? all : undefined;
      },
      10_000,
      'the service connection in the management API',
    );
    for (const c of connections) await management(`/connections/${encodeURIComponent(c.name)}`, { method: 'DELETE' });
    await logged(r, 'broker disconnected');
    await eventually(async () => r.output().split('"message":"broker connected"').length > 2, 20_000, 'a reconnect');

    expect(await stop(r)).toBe(0);
    const output = r.output();
    expect(output).toContain('"message":"stopped"');
    expect(output).toContain(`${encodeURIComponent(MQ_USER)}:***@`); // the URLs are logged, redacted
    expect(output).toContain(`${DB_USER}:***@`);
    expect(output).toContain('hook-user:***@');
    expectNoSecret(output);
  }, 90_000);

  it('when the broker refuses its password, then the failures it logs carry no password', async () => {
    const r = run({
      MYSQL_URL: withCredentials(dbUrl, DB_USER, DB_PASSWORD),
      AMQP_URL: withCredentials(amqpUrl, MQ_USER, WRONG_MQ_PASSWORD),
    });
    await logged(r, 'broker not reachable at start-up; orders are kept in the outbox until it is');
    await logged(r, 'listening');
    await logged(r, 'broker connection failed');
    expect(r.output()).toMatch(/ACCESS.REFUSED/i);
    await stop(r);
    expectNoSecret(r.output());
  }, 60_000);

  it('when the database refuses its password, then start-up fails without logging it', async () => {
    const r = run({
      MYSQL_URL: withCredentials(dbUrl, DB_USER, WRONG_DB_PASSWORD),
      AMQP_URL: withCredentials(amqpUrl, MQ_USER, MQ_PASSWORD),
    });
    const code = await Promise.race([r.exited, timeoutAfter(30_000)]);
    expect(code).toBe(1);
    expect(r.output()).toContain('"message":"start-up failed"');
    expect(r.output()).toMatch(/Access denied/);
    expectNoSecret(r.output());
  }, 60_000);
});
