import type { Knex } from 'knex';
import { spawnService, type ServiceChild } from '../../support/child-service';
import { eventually, management } from '../../support/scratch';

export interface Reply {
  status: number;
  body: any;
}

/** One JSON request against a service at `baseUrl` (in process or a child). */
export async function call(baseUrl: string, method: string, route: string, body?: unknown): Promise<Reply> {
  const res = await fetch(baseUrl + route, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* keep the text */
  }
  return { status: res.status, body: parsed };
}

let skus = 0;
export async function createProduct(baseUrl: string, category: string, stock: number): Promise<string> {
  const res = await call(baseUrl, 'POST', '/products', {
    sku: `fault-${process.pid}-${Date.now()}-${skus++}`,
    name: 'Fault product',
    category,
    priceCents: 1000,
    stock,
  });
  if (res.status !== 201) throw new Error(`POST /products answered ${res.status}: ${JSON.stringify(res.body)}`);
  return String(res.body.id);
}

export interface CreatedOrder {
  id: string;
  expiresAt: string;
  totalCents: number;
  /** Which of the `n` requests created it. */
  index: number;
}

/**
 * Creates `n` one-item orders with at most `concurrency` requests in flight (`extra(i)` adds fields to the i-th
 * body, e.g. its customer, coupon and points). Returns the orders the service acknowledged (201) and how many
 * requests got something else.
 */
export async function createOrders(
  baseUrl: string,
  productId: string,
  n: number,
  concurrency = 50,
  extra: (i: number) => Record<string, unknown> = () => ({}),
): Promise<{ orders: CreatedOrder[]; failed: number }> {
  const orders: CreatedOrder[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const index = next++;
      try {
        const res = await call(baseUrl, 'POST', '/orders', {
          customerId: 'fault-customer',
          items: [{ productId, quantity: 1 }],
          ...extra(index),
        });
        if (res.status === 201)
          orders.push({
            id: String(res.body.id),
            expiresAt: res.body.expiresAt,
            totalCents: res.body.totalCents,
            index,
          });
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { orders, failed };
}

/** Status counts of the given orders, from the database. */
export async function statusCounts(db: Knex, ids: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < ids.length; i += 1000) {
    const rows: { status: string; n: number }[] = await db('orders')
      .select('status')
      .count({ n: '*' })
      .whereIn('id', ids.slice(i, i + 1000))
      .groupBy('status');
    for (const r of rows) out[r.status] = (out[r.status] ?? 0) + Number(r.n);
  }
  return out;
}

/** Waits until none of the given orders is PENDING_PAYMENT. */
export async function waitUntilSettled(
  db: Knex,
  ids: readonly string[],
  timeoutMs: number,
  what = 'every order to leave PENDING_PAYMENT',
): Promise<Record<string, number>> {
  return eventually(
    async () => {
      const counts = await statusCounts(db, ids);
      return (counts.PENDING_PAYMENT ?? 0) === 0 ? counts : undefined;
    },
    timeoutMs,
    what,
  );
}

/** How many releasing events (timeout/cancel) were recorded per source, for the given orders. */
export async function closeSources(db: Knex, ids: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < ids.length; i += 1000) {
    const rows: { source: string; n: number }[] = await db('order_events')
      .select('source')
      .count({ n: '*' })
      .whereIn('order_id', ids.slice(i, i + 1000))
      .where({ event: 'timeout' })
      .groupBy('source');
    for (const r of rows) out[r.source] = (out[r.source] ?? 0) + Number(r.n);
  }
  return out;
}

/** A queue as the management API shows it (undefined when missing). */
export async function queueInfo(
  vhost: string,
  queue: string,
): Promise<
  | {
      messages: number;
      messages_ready: number;
      messages_unacknowledged: number;
      consumers: number;
      [k: string]: unknown;
    }
  | undefined
> {
  return (await management(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`)) as never;
}

/** Extra detail under a scenario's line (not part of the table). */
export function note(text: string): void {
  process.stdout.write(`  # ${text}\n`);
}

export type ChildService = ServiceChild;

/** Starts `src/main.ts` as a real process on `mysqlUrl` / `amqpUrl`; resolves once /readyz answers 200. */
export async function startChildService(env: {
  MYSQL_URL: string;
  AMQP_URL: string;
  [k: string]: string;
}): Promise<ChildService> {
  return spawnService({ NODE_ENV: 'test', DELAY_LEVELS: '1s,2s,5s', ...env });
}

/** Runs `work` for 0..n-1 with at most `concurrency` at once. */
export async function inParallel<T>(n: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await work(i);
      }
    }),
  );
  return out;
}
