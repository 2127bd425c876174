import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import mysql from 'mysql2/promise';
import { connectDatabase, migrateDatabase } from '../../src/db/connect';
import { mysqlServerOf, SHARED_SERVERS } from './shared-servers';

const { mysqlUrl: MYSQL_BASE, amqpUrl: AMQP_BASE, managementUrl: MANAGEMENT } = SHARED_SERVERS;

const suffix = () => randomBytes(4).toString('hex');

/** Where scratch databases and vhosts are made: SHARED_SERVERS, unless a test that breaks a server names its own. */
export interface Servers {
  mysqlUrl?: string;
  amqpUrl?: string;
  /** With credentials in it. */
  managementUrl?: string;
}

/** A database of its own for one test file; the service creates and migrates it. */
export function scratchDatabaseUrl(servers: Servers = {}): string {
  const u = new URL(servers.mysqlUrl ?? MYSQL_BASE);
  u.pathname = `/ot_test_${suffix()}`;
  return u.toString();
}

/** A plain mysql2 connection to the server of a URL; to its database too when `useDatabase`. */
export function mysqlConnection(url: string, useDatabase = false): Promise<mysql.Connection> {
  const database = useDatabase ? decodeURIComponent(new URL(url).pathname.slice(1)) : undefined;
  return mysql.createConnection({ ...mysqlServerOf(url), database });
}

/** Whether the database a URL names exists. */
export async function databaseExists(url: string): Promise<boolean> {
  const conn = await mysqlConnection(url);
  try {
    const [rows] = await conn.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [
      decodeURIComponent(new URL(url).pathname.slice(1)),
    ]);
    return (rows as unknown[]).length > 0;
  } finally {
    await conn.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const conn = await mysql.createConnection(mysqlServerOf(url));
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await conn.end();
  }
}

/** Calls the RabbitMQ management API (credentials from the URL). */
export async function management(
  path: string,
  init: { method?: string; body?: unknown } = {},
  servers: Servers = {},
): Promise<unknown> {
  const base = new URL(servers.managementUrl ?? MANAGEMENT);
  const auth = Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString(
    'base64',
  );
  const res = await fetch(`${base.protocol}//${base.host}/api${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok && res.status !== 404)
    throw new Error(`management ${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
  if (res.status === 404) return undefined;
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** A vhost of its own for one test file, with guest allowed in; returns the AMQP URL for it. */
export async function scratchVhost(servers: Servers = {}): Promise<{ vhost: string; url: string }> {
  const amqpBase = servers.amqpUrl ?? AMQP_BASE;
  const vhost = `ot-test-${suffix()}`;
  await management(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', body: {} }, servers);
  const user = decodeURIComponent(new URL(amqpBase).username || 'guest');
  await management(
    `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
    { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } },
    servers,
  );
  const u = new URL(amqpBase);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return { vhost, url: u.toString() };
}

export async function deleteVhost(vhost: string, servers: Servers = {}): Promise<void> {
  await management(`/vhosts/${encodeURIComponent(vhost)}`, { method: 'DELETE' }, servers);
}

/** A queue's figures from the management API; undefined when it does not exist. */
export async function queueStats(
  vhost: string,
  queue: string,
  servers: Servers = {},
): Promise<{ messages?: number; consumers?: number } | undefined> {
  return (await management(`/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`, {}, servers)) as
    { messages?: number; consumers?: number } | undefined;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A migrated scratch database and a knex on it, with no service running: only the test's own transactions. */
export async function migratedScratchDatabase(
  poolSize = 4,
): Promise<{ url: string; db: Knex; destroy(): Promise<void> }> {
  const url = scratchDatabaseUrl();
  await migrateDatabase({ url });
  // As the service's own pool: the close and create transactions send their statements together.
  const db = connectDatabase({ url, poolSize, multipleStatements: true });
  return {
    url,
    db,
    async destroy() {
      await db.destroy();
      await dropDatabase(url);
    },
  };
}

/** Writes `count` unsent outbox rows for a far-off timeout, claimed by someone else until `claimedUntil` (or unclaimed). */
export async function insertUnsentOutbox(db: Knex, count: number, claimedUntil: Date | null = null): Promise<void> {
  const now = new Date();
  await db('outbox').insert(
    Array.from({ length: count }, () => ({
      message_id: randomUUID(),
      kind: 'order.timeout',
      order_id: null,
      payload: JSON.stringify({
        orderId: '1',
        expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
        attempt: 0,
      }),
      created_at: now,
      claimed_by: claimedUntil ? 'someone-else' : null,
      claimed_until: claimedUntil,
    })),
  );
}
