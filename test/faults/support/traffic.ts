import type { Knex } from 'knex';
import { connectDatabase } from '../../../src/db/connect';
import { spawnService, type ServiceChild } from '../../support/child-service';
import * as scratch from '../../support/scratch';

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
  return scratch.eventually(
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
  return (await scratch.management(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`)) as never;
}

/** A counter from a child's /metrics, summed over its series whose labels include `label` (0 when absent). */
export async function metric(child: ChildService, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${child.baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
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

/**
 * Service processes on a scratch database and vhost of the shared servers, for a scenario that breaks neither;
 * `cleanup` (in afterAll) kills the processes, runs `closers` and removes the database and the vhost.
 */
export class ScratchRun {
  readonly children: ChildService[] = [];
  /** Whatever else the scenario opened (receivers, consumers), closed after the processes are gone. */
  readonly closers: (() => Promise<void>)[] = [];
  private servers?: { MYSQL_URL: string; AMQP_URL: string };
  private knex?: Knex;
  private vhost?: string;

  /** The scratch database's URL and the vhost's (made on the first call), as the processes' env. */
  async env(): Promise<{ MYSQL_URL: string; AMQP_URL: string }> {
    if (!this.servers) {
      const MYSQL_URL = scratch.scratchDatabaseUrl();
      const { vhost, url } = await scratch.scratchVhost();
      this.vhost = vhost;
      this.servers = { MYSQL_URL, AMQP_URL: url };
    }
    return this.servers;
  }

  /** Starts one more process on the scratch servers, with `env` on top. */
  async start(env: Record<string, string> = {}): Promise<ChildService> {
    const child = await startChildService({ ...(await this.env()), ...env });
    this.children.push(child);
    return child;
  }

  /** A connection to the scratch database; once a process has started (it creates the database). */
  get db(): Knex {
    if (!this.servers) throw new Error('no scratch database yet: start a process first');
    this.knex ??= connectDatabase({ url: this.servers.MYSQL_URL, poolSize: 2 });
    return this.knex;
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) await c.kill();
    for (const close of this.closers) await close();
    await this.knex?.destroy();
    if (this.servers) await scratch.dropDatabase(this.servers.MYSQL_URL);
    if (this.vhost) await scratch.deleteVhost(this.vhost);
  }
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
