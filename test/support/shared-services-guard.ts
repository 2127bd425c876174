import type { EventEmitter } from 'node:events';
import amqp from 'amqplib';
import mysql from 'mysql2/promise';
import { mysqlServerOf } from './shared-servers';

/**
 * Proof that a test run left the machine's own MariaDB and RabbitMQ alone (docs/reliability.md: tests that break a
 * server start a private one). `watchServers` notes each server's uptime and holds a connection to it open;
 * `check` then reports a server that is down, that closed the held connection, or whose uptime went back (it
 * restarted). Both signals are needed: `rabbitmqctl stop_app` / `start_app` restarts RabbitMQ inside an Erlang
 * VM that keeps running, so the node's uptime (the VM's) does not show it, while the closed connection does;
 * the uptime catches a restart even if the connection was lost some other way first. Jest runs it around every
 * run (jest.config.js: shared-services-setup.ts / shared-services-teardown.ts).
 */

export interface WatchedServers {
  mysqlUrl?: string;
  amqpUrl?: string;
  /** With credentials in it; needed with `amqpUrl`. */
  managementUrl?: string;
}

export interface ServersWatch {
  /** What happened to the watched servers since the watch began; empty when nothing did. */
  check(): Promise<string[]>;
  /** Closes the held connections. */
  close(): Promise<void>;
  /** Servers that could not be reached at the start, so are not watched. */
  unwatched: string[];
}

// Uptime counters are whole seconds (MariaDB), and RabbitMQ's management API refreshes node uptime only every
// collect_statistics_interval (5 s by default), so a reading can lag by that much: allow three intervals. A real
// restart still shows, since the uptime then falls short of the run's length by the server's whole earlier life.
const SLACK_MS = 15_000;

async function mariadbUptimeMs(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Uptime'");
  return Number((rows as { Value: string }[])[0]!.Value) * 1000;
}

async function rabbitmqUptimeMs(managementUrl: string): Promise<number> {
  const base = new URL(managementUrl);
  const user = `${decodeURIComponent(base.username || 'guest')}:${decodeURIComponent(base.password || 'guest')}`;
  const get = async (path: string) => {
    const res = await fetch(`${base.protocol}//${base.host}/api${path}`, {
      headers: { authorization: `Basic ${Buffer.from(user).toString('base64')}` },
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const node = String((await get('/overview')).node);
  return Number((await get(`/nodes/${encodeURIComponent(node)}`)).uptime);
}

interface Held {
  /** Why the server closed it, once it has. */
  lost(): string | undefined;
  close(): Promise<void>;
}

/** Watches one server: `uptime` reads its uptime in ms (on the held connection when it can). */
async function watchOne(
  what: string,
  connect: () => Promise<{ held: Held; uptime: () => Promise<number> }>,
): Promise<{ check: () => Promise<string | undefined>; close: () => Promise<void> } | undefined> {
  const started = Date.now();
  const opened = await connect().catch(() => undefined);
  const before = await opened?.uptime().catch(() => undefined);
  if (!opened || before === undefined) {
    await opened?.held.close();
    return undefined;
  }
  const { held, uptime } = opened;
  return {
    async check() {
      const lost = held.lost();
      if (lost) return `${what} closed the guard's connection during the run (stopped or restarted): ${lost}`;
      const after = await uptime().catch((err: Error) => err);
      if (after instanceof Error) return `${what} is down at the end of the run: ${after.message}`;
      const elapsed = Date.now() - started;
      if (after + SLACK_MS >= before + elapsed) return undefined;
      return `${what} restarted during the run: uptime ${Math.round(after / 1000)} s at the end, ${Math.round(before / 1000)} s at the start ${Math.round(elapsed / 1000)} s earlier`;
    },
    close: () => held.close(),
  };
}

/** Holds `conn` open, noting the first error or close of it that our own `close` did not cause. */
function hold(conn: EventEmitter, closeEvent: 'end' | 'close', close: () => Promise<void>): Held {
  let reason: string | undefined;
  let closing = false;
  const note = (why: string) => {
    if (!closing) reason ??= why;
  };
  conn.on('error', (err: Error) => note(err.message));
  conn.on(closeEvent, (err?: Error) => note(err?.message ?? 'the server closed the connection'));
  return {
    lost: () => reason,
    async close() {
      closing = true;
      await close().catch(() => undefined);
    },
  };
}

export async function watchServers(servers: WatchedServers): Promise<ServersWatch> {
  const unwatched: string[] = [];
  const watches: NonNullable<Awaited<ReturnType<typeof watchOne>>>[] = [];

  const { mysqlUrl, amqpUrl, managementUrl } = servers;
  if (mysqlUrl) {
    const what = `MariaDB at ${new URL(mysqlUrl).host}`;
    const watch = await watchOne(what, async () => {
      const conn = await mysql.createConnection({ ...mysqlServerOf(mysqlUrl), connectTimeout: 5_000 });
      return {
        held: hold(conn, 'end', () => conn.end()),
        uptime: () => mariadbUptimeMs(conn),
      };
    });
    if (watch) watches.push(watch);
    else unwatched.push(what);
  }

  if (amqpUrl && managementUrl) {
    const what = `RabbitMQ at ${new URL(amqpUrl).host}`;
    const watch = await watchOne(what, async () => {
      const u = new URL(amqpUrl);
      u.searchParams.set('heartbeat', '0'); // a busy test process must not lose it to a missed heartbeat
      const conn = await amqp.connect(u.toString());
      return {
        held: hold(conn, 'close', () => conn.close()),
        uptime: () => rabbitmqUptimeMs(managementUrl),
      };
    });
    if (watch) watches.push(watch);
    else unwatched.push(what);
  }

  return {
    unwatched,
    async check() {
      const found = await Promise.all(watches.map((w) => w.check()));
      return found.filter((p): p is string => p !== undefined);
    },
    async close() {
      await Promise.all(watches.map((w) => w.close()));
    },
  };
}
