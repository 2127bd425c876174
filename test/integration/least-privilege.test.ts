import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import amqp from 'amqplib';
import type mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config';
import { buildDefinitions } from '../../src/messaging/definitions';
import { buildTopology } from '../../src/messaging/topology';
import { startService, type ServiceHandle } from '../../src/main';
import { publishRaw } from '../support/amqp';
import { runCli } from '../support/cli';
import {
  deleteVhost,
  dropDatabase,
  eventually,
  management,
  mysqlConnection,
  scratchDatabaseUrl,
  scratchVhost,
} from '../support/scratch';

/**
 * The service with exactly the rights the docker compose stack gives it, on this machine's servers: its
 * RabbitMQ user and permissions come from the definitions `topology export` writes, its MySQL privileges from
 * docker/mysql-init (the script itself is run, with the SQL it would hand to MySQL captured). With them the
 * service must do all of its work, and nothing beyond.
 */

const ROOT = path.join(__dirname, '..', '..');
const tag = randomBytes(4).toString('hex');
const DB_USER = `ot_svc_${tag}`;
const DB_PASSWORD = `db-${tag}-pw`;
const MQ_USER = `ot-svc-${tag}`;
const MQ_PASSWORD = `mq-${tag}-pw`;

let dbUrl: string;
let vhost: string;
let adminAmqpUrl: string;
let root: mysql.Connection;
let svc: ServiceHandle | undefined;

const withCredentials = (url: string, user: string, password: string) => {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
};
const serviceDbUrl = () => withCredentials(dbUrl, DB_USER, DB_PASSWORD);
const serviceAmqpUrl = () => withCredentials(adminAmqpUrl, MQ_USER, MQ_PASSWORD);

/** The statements docker/mysql-init/10-service-user.sh hands to MySQL, for this test's database and user. */
function initScriptSql(database: string): string[] {
  const sql = execFileSync(
    'bash',
    ['--norc', '--noprofile', '-c', 'docker_process_sql() { cat; }; . "$0"', 'docker/mysql-init/10-service-user.sh'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        MYSQL_DATABASE: database,
        ORDER_TIMEOUT_DB_USER: DB_USER,
        ORDER_TIMEOUT_DB_PASSWORD: DB_PASSWORD,
      },
      encoding: 'utf8',
    },
  );
  return sql
    .split(';\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

beforeAll(async () => {
  dbUrl = scratchDatabaseUrl();
  ({ vhost, url: adminAmqpUrl } = await scratchVhost());

  // What the MySQL image does on first start: create MYSQL_DATABASE, then run the init scripts as root.
  root = await mysqlConnection(dbUrl);
  const database = new URL(dbUrl).pathname.slice(1);
  await root.query(`CREATE DATABASE \`${database}\``);
  const statements = initScriptSql(database);
  expect(statements).toHaveLength(2);
  for (const statement of statements) await root.query(statement);

  // What RabbitMQ does at boot with the exported definitions (the administrator left out: the test's own user is one).
  const topology = buildTopology({ levels: loadConfig().delayLevels, deliveryLimit: 5 });
  const definitions = buildDefinitions(topology, {
    vhost,
    service: { name: MQ_USER, password: MQ_PASSWORD },
    admin: false,
  });
  await management('/definitions', { method: 'POST', body: definitions });
}, 30_000);

afterAll(async () => {
  await svc?.stop();
  if (root) {
    await root.query('DROP USER IF EXISTS ?@?', [DB_USER, '%']);
    await root.end();
  }
  await management(`/users/${encodeURIComponent(MQ_USER)}`, { method: 'DELETE' });
  if (dbUrl) await dropDatabase(dbUrl);
  if (vhost) await deleteVhost(vhost);
});

test('when the service runs as the users of the compose stack, then it migrates, declares, closes a timed-out order, parks a poison message, and the CLI lists it', async () => {
  svc = await startService(
    loadConfig({
      http: { port: 0 },
      mysql: { url: serviceDbUrl() },
      amqp: { url: serviceAmqpUrl() },
      orderPaymentTimeouts: { default: '15m', short: '1s' },
    }),
  );
  const base = `http://127.0.0.1:${svc.port}`;
  const post = (route: string, body: unknown) =>
    fetch(base + route, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const product = await post('/products', { sku: `lp-${tag}`, name: 'p', category: 'short', priceCents: 1, stock: 2 });
  expect(product.status).toBe(201);
  const { id: productId } = (await product.json()) as { id: string };
  const order = await post('/orders', { customerId: 'lp', items: [{ productId, quantity: 1 }] });
  expect(order.status).toBe(201);
  const { id: orderId } = (await order.json()) as { id: string };
  const db = svc.db;
  await eventually(
    async () => (await db('orders').where({ id: orderId }).first())?.status === 'CLOSED',
    15_000,
    'the closer to close the order',
  );

  // Parking publishes to the default exchange: the one write permission outside order.*.
  await publishRaw(adminAmqpUrl, 'order.timeout', 'order.timeout', 'not json', { messageId: `poison-${tag}` });
  await eventually(
    async () => {
      const q = (await management(`/queues/${encodeURIComponent(vhost)}/order.timeout.parked`)) as {
        messages?: number;
      };
      return q?.messages === 1;
    },
    15_000,
    'the poison message to be parked',
  );
  expect((await fetch(`${base}/readyz`)).status).toBe(200);

  const listed = await runCli(['dead-letters', 'list'], { AMQP_URL: serviceAmqpUrl(), MYSQL_URL: serviceDbUrl() });
  expect(listed.code).toBe(0);
  expect(listed.stdout).toContain(`poison-${tag}`);
  const replayed = await runCli(['dead-letters', 'replay'], { AMQP_URL: serviceAmqpUrl(), MYSQL_URL: serviceDbUrl() });
  expect(replayed.code).toBe(0);
}, 60_000);

test('when the service users reach beyond their own objects, then RabbitMQ and MySQL refuse', async () => {
  const conn = await amqp.connect(serviceAmqpUrl());
  conn.on('error', () => undefined);
  try {
    const declare = await conn.createChannel();
    declare.on('error', () => undefined);
    await expect(declare.assertQueue('not-the-services')).rejects.toThrow(/ACCESS_REFUSED/);
    const consume = await conn.createChannel();
    consume.on('error', () => undefined);
    // Binding needs read on the exchange: only order.* exchanges are readable.
    await expect(consume.bindQueue('order.timeout', 'amq.topic', '#')).rejects.toThrow(/ACCESS_REFUSED/);
  } finally {
    await conn.close().catch(() => undefined);
  }
  const api = await fetch(
    `${new URL(process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672').origin}/api/overview`,
    {
      headers: { authorization: `Basic ${Buffer.from(`${MQ_USER}:${MQ_PASSWORD}`).toString('base64')}` },
    },
  );
  expect(api.status).toBe(401);

  const db = await mysqlConnection(serviceDbUrl(), true);
  try {
    await expect(db.query('SELECT user FROM mysql.user')).rejects.toThrow(/denied/);
    await expect(db.query(`CREATE DATABASE ot_other_${tag}`)).rejects.toThrow(/denied/);
    await expect(db.query('DROP TABLE order_events')).rejects.toThrow(/denied/);
  } finally {
    await db.end();
  }
});
