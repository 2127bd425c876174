import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import type mysql from 'mysql2/promise';
import { PRODUCTS, percentile, sleep } from './support';

/** Runs `work` on each id with `workers` concurrent connections; returns seconds taken. */
async function withWorkers<T>(
  items: T[],
  workers: number,
  work: (conn: mysql.PoolConnection, item: T) => Promise<void>,
  pool: mysql.Pool,
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      const conn = await pool.getConnection();
      try {
        await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        while (next < items.length) await work(conn, items[next++]!);
      } finally {
        conn.release();
      }
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The textbook close of one order, in a transaction of its own: compare-and-set, restock, event (the raw per-order
 * baseline's and the BullMQ peer's close).
 */
export async function closeOneOrder(conn: mysql.PoolConnection, id: number): Promise<void> {
  const now = new Date();
  await conn.beginTransaction();
  try {
    const [r] = await conn.query(
      "UPDATE orders SET status = 'CLOSED', closed_at = ?, updated_at = ? WHERE id = ? AND status = 'PENDING_PAYMENT' AND expires_at <= ?",
      [now, now, id, now],
    );
    if ((r as { affectedRows: number }).affectedRows === 1) {
      await conn.query(
        'UPDATE products p JOIN order_items i ON i.product_id = p.id SET p.stock = p.stock + i.quantity WHERE i.order_id = ?',
        [id],
      );
      await conn.query(
        "INSERT INTO order_events (order_id, event, from_status, to_status, source, at) VALUES (?, 'timeout', 'PENDING_PAYMENT', 'CLOSED', 'timeout', ?)",
        [id, now],
      );
    }
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
}

/** The textbook per-order close ({@link closeOneOrder}) of every id, 8 connections. Seconds taken. */
export function rawClosePerOrder(pool: mysql.Pool, ids: number[]): Promise<number> {
  return withWorkers(ids, 8, closeOneOrder, pool);
}

/** Closes the locked `due` orders of an open transaction: status, restock per product, events (the peers' close). */
async function closeLocked(conn: mysql.PoolConnection, due: number[], now: Date): Promise<void> {
  await conn.query("UPDATE orders SET status = 'CLOSED', closed_at = ?, updated_at = ? WHERE id IN (?)", [
    now,
    now,
    due,
  ]);
  const [held] = await conn.query(
    'SELECT product_id, SUM(quantity) AS q FROM order_items WHERE order_id IN (?) GROUP BY product_id ORDER BY product_id',
    [due],
  );
  const h = held as { product_id: number; q: string }[];
  await conn.query(
    `UPDATE products SET stock = stock + CASE id ${h.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE id IN (?)`,
    [...h.flatMap((x) => [x.product_id, Number(x.q)]), h.map((x) => x.product_id)],
  );
  await conn.query('INSERT INTO order_events (order_id, event, from_status, to_status, source, at) VALUES ?', [
    due.map((id) => [id, 'timeout', 'PENDING_PAYMENT', 'CLOSED', 'timeout', now]),
  ]);
}

/**
 * The polling peer, as a team would build it instead of messages: lanes that each take the oldest due orders,
 * 500 a transaction with `FOR UPDATE SKIP LOCKED`, and close them as above, until a round finds fewer than 500.
 * (Its 1 s polling interval only matters for lateness; a backlog keeps every lane busy.) Seconds taken.
 */
export function rawPollingDrain(pool: mysql.Pool, lanes = 4, batchSize = 500): Promise<number> {
  let done = false;
  return withWorkers(
    Array.from({ length: lanes }, (_, i) => i),
    lanes,
    async (conn) => {
      while (!done) {
        const now = new Date();
        await conn.beginTransaction();
        const [rows] = await conn.query(
          "SELECT id FROM orders WHERE status = 'PENDING_PAYMENT' AND expires_at <= ? ORDER BY expires_at, id LIMIT ? FOR UPDATE SKIP LOCKED",
          [now, batchSize],
        );
        const due = (rows as { id: number }[]).map((r) => r.id);
        if (due.length > 0) await closeLocked(conn, due, now);
        await conn.commit();
        if (due.length < batchSize) done = true;
      }
    },
    pool,
  );
}

/**
 * The polling peer as it runs in time (bursts, steady load): it polls on every whole `intervalMs` of the clock, as a
 * cron would, each poll draining every due order as {@link rawPollingDrain} does, until a poll after `until` (the
 * last deadline) left nothing due.
 */
export async function rawPollingCron(pool: mysql.Pool, until: Date, intervalMs = 1000): Promise<void> {
  for (let tick = Math.ceil(Date.now() / intervalMs) * intervalMs; ; tick += intervalMs) {
    await sleep(Math.max(0, tick - Date.now()));
    const polledAt = Date.now();
    await rawPollingDrain(pool);
    if (polledAt > until.getTime()) return;
  }
}

/** The same work batched 200 orders a transaction (lock, update, restock per product, events), 8 connections. */
export function rawCloseBatched(pool: mysql.Pool, ids: number[], batchSize = 200): Promise<number> {
  const batches: number[][] = [];
  for (let i = 0; i < ids.length; i += batchSize) batches.push(ids.slice(i, i + batchSize));
  return withWorkers(
    batches,
    8,
    async (conn, batch) => {
      const now = new Date();
      await conn.beginTransaction();
      const [rows] = await conn.query(
        "SELECT id FROM orders WHERE id IN (?) AND status = 'PENDING_PAYMENT' AND expires_at <= ? ORDER BY id FOR UPDATE",
        [batch, now],
      );
      const due = (rows as { id: number }[]).map((r) => r.id);
      if (due.length > 0) await closeLocked(conn, due, now);
      await conn.commit();
    },
    pool,
  );
}

/** The create transaction without HTTP: take stock, order, item, event, outbox; `connections` at once for `ms`. */
export async function rawCreate(
  pool: mysql.Pool,
  connections: number,
  ms: number,
  products = PRODUCTS,
): Promise<{ count: number; seconds: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const stopAt = Date.now() + ms;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const conn = await pool.getConnection();
      try {
        await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        while (Date.now() < stopAt) {
          const t0 = process.hrtime.bigint();
          const product = 1 + Math.floor(Math.random() * products);
          const now = new Date();
          await conn.beginTransaction();
          const [p] = await conn.query('SELECT category, price_cents FROM products WHERE id = ?', [product]);
          const price = Number((p as { price_cents: number }[])[0]!.price_cents);
          await conn.query('UPDATE products SET stock = stock - 1, updated_at = ? WHERE id = ? AND stock >= 1', [
            now,
            product,
          ]);
          const [ins] = await conn.query(
            "INSERT INTO orders (customer_id, status, total_cents, expires_at, created_at, updated_at) VALUES ('raw', 'PENDING_PAYMENT', ?, ?, ?, ?)",
            [price, new Date(now.getTime() + 900_000), now, now],
          );
          const id = (ins as { insertId: number }).insertId;
          await conn.query(
            'INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, 1, ?)',
            [id, product, price],
          );
          await conn.query(
            "INSERT INTO order_events (order_id, event, from_status, to_status, source, at) VALUES (?, 'create', NULL, 'PENDING_PAYMENT', 'http', ?)",
            [id, now],
          );
          await conn.query(
            "INSERT INTO outbox (message_id, kind, order_id, payload, created_at) VALUES (?, 'order.timeout', ?, ?, ?)",
            [randomBytes(16).toString('hex'), id, '{}', now],
          );
          await conn.commit();
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      } finally {
        conn.release();
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

interface RawQueues {
  conn: amqp.ChannelModel;
  ch: amqp.ConfirmChannel;
  source: string;
  dlq: string;
  cleanup(): Promise<void>;
}

/** A quorum source queue dead-lettering at-least-once into a quorum queue, as the service's delay queues do. */
async function rawQueues(amqpUrl: string, ttlMs?: number): Promise<RawQueues> {
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createConfirmChannel();
  const suffix = randomBytes(3).toString('hex');
  const source = `raw.ttl.${suffix}`;
  const dlq = `raw.dlq.${suffix}`;
  await ch.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.assertQueue(source, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      ...(ttlMs ? { 'x-message-ttl': ttlMs } : {}),
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': dlq,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
  });
  return {
    conn,
    ch,
    source,
    dlq,
    async cleanup() {
      await ch.deleteQueue(source);
      await ch.deleteQueue(dlq);
      await conn.close();
    },
  };
}

/** Consumes `count` messages from `queue`, calling `onMessage(body, arrivalMs)`; resolves when all are in. */
async function consumeAll(
  conn: amqp.ChannelModel,
  queue: string,
  count: number,
  onMessage: (body: string, at: number) => void,
): Promise<void> {
  const consumer = await conn.createChannel();
  await consumer.prefetch(500);
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.consume(queue, (msg) => {
      if (!msg) return;
      onMessage(msg.content.toString(), Date.now());
      consumer.ack(msg);
      if (++seen === count) resolve();
    });
  });
  await consumer.close();
}

/**
 * Steady raw TTL + dead-lettering: `count` messages at `ratePerSecond` into a queue with a TTL; each message's
 * lateness is arrival − publish − TTL (ms).
 */
export async function rawSteadyDeadLettering(
  amqpUrl: string,
  opts: { count: number; ttlMs: number; ratePerSecond: number },
): Promise<number[]> {
  const q = await rawQueues(amqpUrl, opts.ttlMs);
  const lateness: number[] = [];
  const arrived = consumeAll(q.conn, q.dlq, opts.count, (body, at) => lateness.push(at - Number(body) - opts.ttlMs));
  const t0 = Date.now();
  for (let i = 0; i < opts.count; i++) {
    const due = t0 + (i * 1000) / opts.ratePerSecond;
    if (due > Date.now()) await sleep(due - Date.now());
    q.ch.sendToQueue(q.source, Buffer.from(String(Date.now())), { persistent: true });
  }
  await q.ch.waitForConfirms();
  await arrived;
  await q.cleanup();
  return lateness;
}

/**
 * A raw burst: `count` messages that all expire at the same instant (per-message expiration set to land on
 * it; fine here, where every message shares the deadline), dead-lettered and consumed. Returns the seconds
 * from that instant until the last one arrived.
 */
export async function rawBurstDeadLettering(amqpUrl: string, opts: { count: number; leadMs: number }): Promise<number> {
  const q = await rawQueues(amqpUrl);
  const at = Date.now() + opts.leadMs;
  let last = 0;
  const arrived = consumeAll(q.conn, q.dlq, opts.count, (_body, t) => (last = t));
  for (let i = 0; i < opts.count; i++) {
    q.ch.sendToQueue(q.source, Buffer.from(String(i)), {
      persistent: true,
      expiration: String(Math.max(0, at - Date.now())),
    });
    if (i % 1000 === 999) await q.ch.waitForConfirms();
  }
  await q.ch.waitForConfirms();
  if (Date.now() > at) throw new Error(`publishing ${opts.count} messages took longer than the ${opts.leadMs} ms lead`);
  await arrived;
  await q.cleanup();
  return (last - at) / 1000;
}
