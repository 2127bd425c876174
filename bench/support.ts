import { randomBytes } from 'node:crypto';
import path from 'node:path';
import autocannon from 'autocannon';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { migrateDatabase } from '../src/db/connect';
import { parseDelayLevels } from '../src/domain/delay-plan';
import { assertTopology, buildTopology } from '../src/messaging/topology';
import { spawnService } from '../test/support/child-service';

export const ROOT = path.join(__dirname, '..');
const MYSQL_BASE = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/order_timeout';
const AMQP_BASE = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MANAGEMENT = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://127.0.0.1:15672';
export const DEFAULT_LEVELS = '1s,5s,30s,1m,5m,15m,30m,1h,2h,6h,24h';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function mgmtAuth() {
  const amqpUrl = new URL(AMQP_BASE);
  const m = new URL(MANAGEMENT);
  const user = decodeURIComponent(m.username || amqpUrl.username || 'guest');
  const pass = decodeURIComponent(m.password || amqpUrl.password || 'guest');
  return { base: `${m.protocol}//${m.host}/api`, auth: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

export async function management<T = unknown>(p: string, method = 'GET', body?: unknown): Promise<T> {
  const { base, auth } = mgmtAuth();
  const res = await fetch(base + p, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`management ${method} ${p}: ${res.status}`);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A scratch database (migrated) and vhost (topology declared) for one scenario. */
export interface Scratch {
  mysqlUrl: string;
  amqpUrl: string;
  vhost: string;
  pool: mysql.Pool;
  destroy(): Promise<void>;
}

export async function createScratch(poolSize = 8, levels = DEFAULT_LEVELS): Promise<Scratch> {
  const id = randomBytes(3).toString('hex');
  const dbUrl = new URL(MYSQL_BASE);
  dbUrl.pathname = `/ot_bench_${id}`;
  const mysqlUrl = dbUrl.toString();
  await migrateDatabase({ url: mysqlUrl });
  const vhost = `ot-bench-${id}`;
  await management(`/vhosts/${encodeURIComponent(vhost)}`, 'PUT', {});
  await management(
    `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(decodeURIComponent(new URL(AMQP_BASE).username || 'guest'))}`,
    'PUT',
    { configure: '.*', write: '.*', read: '.*' },
  );
  const a = new URL(AMQP_BASE);
  a.pathname = `/${encodeURIComponent(vhost)}`;
  const amqpUrl = a.toString();
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createChannel();
  await assertTopology(ch, buildTopology({ levels: parseDelayLevels(levels), deliveryLimit: 5 }));
  await conn.close();
  const u = new URL(mysqlUrl);
  const pool = mysql.createPool({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1),
    connectionLimit: poolSize,
    timezone: 'Z',
    supportBigNumbers: true,
  });
  return {
    mysqlUrl,
    amqpUrl,
    vhost,
    pool,
    async destroy() {
      await pool.query(`DROP DATABASE \`${u.pathname.slice(1)}\``).catch(() => undefined);
      await pool.end();
      await management(`/vhosts/${encodeURIComponent(vhost)}`, 'DELETE').catch(() => undefined);
    },
  };
}

export const PRODUCTS = 100;
export const PRODUCT_STOCK = 100_000_000;

/** 100 products with plenty of stock, ids 1..100, in the given category. */
export async function seedProducts(pool: mysql.Pool, category: string): Promise<void> {
  const now = new Date();
  const rows = Array.from({ length: PRODUCTS }, (_, i) => [
    i + 1,
    `bench-${i + 1}`,
    `Bench product ${i + 1}`,
    category,
    1000,
    PRODUCT_STOCK,
    PRODUCT_STOCK,
    now,
    now,
  ]);
  await pool.query(
    'INSERT INTO products (id, sku, name, category, price_cents, stock, stock_received, created_at, updated_at) VALUES ?',
    [rows],
  );
}

/**
 * Writes `count` pending orders (one item, quantity 1, products in turn) straight into the database, with ids
 * from `firstId`, their stock taken. With `outbox`, each also gets an unclaimed outbox row, as if the process
 * that created it died before publishing: the service's relay then schedules them.
 */
export async function seedOrders(
  pool: mysql.Pool,
  opts: {
    firstId: number;
    count: number;
    /** One deadline for all, or each order's. */
    expiresAt: Date | ((id: number) => Date);
    outbox?: boolean;
    onProgress?: (done: number) => void;
  },
): Promise<number[]> {
  const now = new Date();
  const expiresAt = (id: number) => (typeof opts.expiresAt === 'function' ? opts.expiresAt(id) : opts.expiresAt);
  const ids: number[] = [];
  const perProduct = new Map<number, number>();
  for (let start = 0; start < opts.count; start += 5000) {
    const chunk = Array.from({ length: Math.min(5000, opts.count - start) }, (_, i) => opts.firstId + start + i);
    ids.push(...chunk);
    await pool.query(
      'INSERT INTO orders (id, customer_id, status, total_cents, expires_at, created_at, updated_at) VALUES ?',
      [chunk.map((id) => [id, 'bench', 'PENDING_PAYMENT', 1000, expiresAt(id), now, now])],
    );
    await pool.query('INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES ?', [
      chunk.map((id) => [id, (id % PRODUCTS) + 1, 1, 1000]),
    ]);
    await pool.query('INSERT INTO order_events (order_id, event, from_status, to_status, source, at) VALUES ?', [
      chunk.map((id) => [id, 'create', null, 'PENDING_PAYMENT', 'http', now]),
    ]);
    if (opts.outbox) {
      await pool.query('INSERT INTO outbox (message_id, kind, order_id, payload, created_at) VALUES ?', [
        chunk.map((id) => [
          randomBytes(16).toString('hex'),
          'order.timeout',
          id,
          JSON.stringify({ orderId: String(id), expiresAt: expiresAt(id).toISOString(), attempt: 0 }),
          now,
        ]),
      ]);
    }
    for (const id of chunk) perProduct.set((id % PRODUCTS) + 1, (perProduct.get((id % PRODUCTS) + 1) ?? 0) + 1);
    opts.onProgress?.(start + chunk.length);
  }
  for (const [product, qty] of perProduct)
    await pool.query('UPDATE products SET stock = stock - ? WHERE id = ?', [qty, product]);
  return ids;
}

/** Publishes a due timeout message for each order id straight into `order.timeout`, confirmed. */
export async function publishDue(amqpUrl: string, ids: number[], expiresAt: Date): Promise<void> {
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < ids.length; i++) {
    const body = Buffer.from(
      JSON.stringify({ orderId: String(ids[i]), expiresAt: expiresAt.toISOString(), attempt: 0 }),
    );
    ch.publish('order.timeout', 'order.timeout', body, {
      persistent: true,
      contentType: 'application/json',
      messageId: `bench-${ids[i]}`,
    });
    if (i % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
}

/** The service as its own process (as in production), on the scratch database and vhost. */
export interface ServiceProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startServiceProcess(scratch: Scratch, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await spawnService(
    {
      NODE_ENV: 'production',
      // Production requires it; the benchmarks send no payments.
      PAYMENT_WEBHOOK_SECRET: 'bench-webhook-secret',
      ADMIN_TOKEN: 'bench-admin-token',
      MYSQL_URL: scratch.mysqlUrl,
      AMQP_URL: scratch.amqpUrl,
      ...env,
    },
    {
      // BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service.
      nodeArgs: (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean),
      timeoutMs: 60_000,
      keepOutput: 20_000,
    },
  );
  return {
    port: service.port,
    pid: service.pid,
    async stop() {
      const { code } = await service.kill('SIGTERM');
      if (code !== 0)
        log(`service exited ${code}; last log lines:\n${service.output().split('\n').slice(-10).join('\n')}`);
    },
  };
}

/** Polls until `check` is true, reporting progress, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<{ done: boolean; progress?: string }>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    const { done, progress } = await check();
    if (done) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${progress ? ` (${progress})` : ''}`);
    if (progress && Date.now() - lastReport > 2000) {
      log(`  ${what}: ${progress}`);
      lastReport = Date.now();
    }
    await sleep(100);
  }
}

/** Waits until `countSql` (a `SELECT COUNT(*) AS n`) answers 0, reporting what is left as "<n> <left>". */
function waitForNoneLeft(pool: mysql.Pool, what: string, countSql: string, left: string, timeoutMs: number) {
  return waitFor(
    what,
    async () => {
      const [rows] = await pool.query(countSql);
      const n = Number((rows as { n: number }[])[0]!.n);
      return { done: n === 0, progress: `${n} ${left}` };
    },
    timeoutMs,
  );
}

/** Waits until the service's relay has published every outbox row of the scratch database. */
export const waitForScheduled = (pool: mysql.Pool, what: string, timeoutMs: number) =>
  waitForNoneLeft(
    pool,
    what,
    'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL',
    'outbox rows to publish',
    timeoutMs,
  );

/** Waits until no order of the scratch database is PENDING_PAYMENT any more, reporting how many still are. */
export const waitForNonePending = (pool: mysql.Pool, what: string, timeoutMs: number) =>
  waitForNoneLeft(
    pool,
    what,
    "SELECT COUNT(*) AS n FROM orders WHERE status = 'PENDING_PAYMENT'",
    'pending',
    timeoutMs,
  );

/** Every order's `closed_at − expires_at` in ms, for the orders with ids in [`first`, `last`]. */
export async function latenessOf(pool: mysql.Pool, first: number, last: number): Promise<number[]> {
  const [rows] = await pool.query(
    'SELECT TIMESTAMPDIFF(MICROSECOND, expires_at, closed_at) / 1000 AS ms FROM orders WHERE id BETWEEN ? AND ?',
    [first, last],
  );
  return (rows as { ms: string }[]).map((r) => Number(r.ms));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Resident set size of a process in bytes (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** autocannon: POST /orders for `seconds` with `connections`, the n-th request's body from `body(n)` (n from 1). */
export function postOrders(
  port: number,
  connections: number,
  seconds: number,
  body: (n: number) => unknown,
): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/orders',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(body(++n)) }),
      },
    ],
  });
}
