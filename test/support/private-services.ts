import { exec } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

/**
 * RabbitMQ nodes and MariaDB servers of a test's own, for tests that kill, pause, stop or restart a server: the
 * machine's own services (the ones every other test, and the developer, use) are never touched (docs/reliability.md).
 *
 * Each server is described by its ports and a directory; two servers running at once must differ in all of
 * them and in the node name. Suites that may run at the same time as each other (or twice at once, by two
 * people on one machine) get them from `claimSlot`, which hands out numbered sets under a lock.
 */

const sh = async (cmd: string, env: Record<string, string> = {}) =>
  (await promisify(exec)(cmd, { env: { ...process.env, ...env }, timeout: 120_000 })).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await sleep(200);
  }
}

export interface PrivateBrokerSpec {
  /** Erlang node name, unique on the machine, e.g. `otfaults@localhost`. */
  node: string;
  /** Where the node keeps its config, data, logs and pid file (wiped on a fresh start). */
  dir: string;
  amqpPort: number;
  managementPort: number;
  /** Erlang distribution port (the CLI tools talk to the node through it). */
  distPort: number;
}

export interface PrivateBroker {
  node: string;
  /** guest on the default vhost. */
  amqpUrl: string;
  /** With guest's credentials in it. */
  managementUrl: string;
  /** Starts the node (fresh data unless `keepData`); resolves once its management API answers. */
  start(keepData?: boolean): Promise<void>;
  /** The node's Erlang VM, as the node itself reports it (its command line does not name the node). */
  pid(): number;
  /** kill -9 of the Erlang VM: no clean shutdown, connections just drop. */
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** `rabbitmqctl stop_app`: the RabbitMQ application stops (connections close), the Erlang node stays up. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`; resolves once the management API answers again. */
  startApp(): Promise<void>;
  /** Kills the node for good (SIGCONT first, in case it was paused). */
  stop(): Promise<void>;
  /** A vhost of its own on this node with guest allowed in; returns its AMQP URL. */
  vhost(name: string): Promise<string>;
}

export function privateBroker(spec: PrivateBrokerSpec): PrivateBroker {
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const api = `http://127.0.0.1:${spec.managementPort}/api`;
  const env = () => ({
    RABBITMQ_NODENAME: spec.node,
    RABBITMQ_DIST_PORT: String(spec.distPort),
    RABBITMQ_CONFIG_FILE: `${spec.dir}/rabbitmq.conf`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${spec.dir}/enabled_plugins`,
    RABBITMQ_MNESIA_BASE: `${spec.dir}/mnesia`,
    RABBITMQ_LOG_BASE: `${spec.dir}/log`,
    RABBITMQ_PID_FILE: `${spec.dir}/rabbit.pid`,
  });
  const up = async () => (await fetch(`${api}/overview`, { headers: { authorization: auth } })).ok;
  // The pid file the node writes (RABBITMQ_PID_FILE); `rabbitmq-diagnostics status` when there is none. The CLI can
  // fail (function_clause) for a while after the management API answers on a busy machine.
  const readPid = async () => {
    const file = `${spec.dir}/rabbit.pid`;
    const fromFile = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
    if (fromFile > 0 && pidAlive(fromFile)) return fromFile;
    return Number(/OS PID: (\d+)/.exec(await sh(`rabbitmq-diagnostics -n ${spec.node} status`))?.[1] ?? 0);
  };
  let pid = 0;

  const broker: PrivateBroker = {
    node: spec.node,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${spec.amqpPort}`,
    managementUrl: `http://guest:guest@127.0.0.1:${spec.managementPort}`,
    async start(keepData = false) {
      if (!keepData) rmSync(spec.dir, { recursive: true, force: true });
      mkdirSync(spec.dir, { recursive: true });
      writeFileSync(
        `${spec.dir}/rabbitmq.conf`,
        `listeners.tcp.1 = 127.0.0.1:${spec.amqpPort}\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = ${spec.managementPort}\n`,
      );
      writeFileSync(`${spec.dir}/enabled_plugins`, '[rabbitmq_management].\n');
      // rabbitmq-server runs as the rabbitmq user when started by root.
      await sh(`chown -R rabbitmq:rabbitmq ${spec.dir} 2>/dev/null || true`);
      await sh('rabbitmq-server -detached', env());
      await until(`the private RabbitMQ node ${spec.node}`, up);
      await until(`the private RabbitMQ node ${spec.node} to report its pid`, async () => (pid = await readPid()) > 0);
    },
    pid() {
      if (!pid) throw new Error(`private RabbitMQ node ${spec.node} not running`);
      return pid;
    },
    async kill() {
      process.kill(broker.pid(), 'SIGKILL');
      await until(
        `the private RabbitMQ node ${spec.node} to die`,
        async () => !(await up().catch(() => false)),
        30_000,
      );
    },
    pause() {
      process.kill(broker.pid(), 'SIGSTOP');
    },
    resume() {
      process.kill(broker.pid(), 'SIGCONT');
    },
    async stopApp() {
      await sh(`rabbitmqctl -n ${spec.node} stop_app`);
    },
    async startApp() {
      await sh(`rabbitmqctl -n ${spec.node} start_app`);
      await until(`the private RabbitMQ node ${spec.node}`, up);
    },
    async stop() {
      const running = pid || (await readPid().catch(() => 0));
      pid = 0;
      if (!running) return;
      try {
        process.kill(running, 'SIGCONT');
        process.kill(running, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
    async vhost(name) {
      const headers = { authorization: auth, 'content-type': 'application/json' };
      const put = async (path: string, body: unknown) => {
        const res = await fetch(`${api}${path}`, { method: 'PUT', headers, body: JSON.stringify(body) });
        if (!res.ok) throw new Error(`PUT ${path} on ${spec.node}: ${res.status} ${await res.text()}`);
      };
      await put(`/vhosts/${encodeURIComponent(name)}`, {});
      await put(`/permissions/${encodeURIComponent(name)}/guest`, { configure: '.*', write: '.*', read: '.*' });
      return `${broker.amqpUrl}/${encodeURIComponent(name)}`;
    },
  };
  return broker;
}

export interface PrivateDatabaseSpec {
  /** Data directory, socket and pid file live here; the data is kept between runs (creating it takes seconds). */
  dir: string;
  port: number;
}

export interface PrivateDatabase {
  port: number;
  /** root, no password, database `name` (the service creates it). */
  url(name: string): string;
  start(): Promise<void>;
  /** A clean shutdown (`mysqladmin shutdown`), as an operator's stop would do. */
  stop(): Promise<void>;
}

export function privateDatabase(spec: PrivateDatabaseSpec): PrivateDatabase {
  const admin = `mysqladmin -uroot -h127.0.0.1 -P${spec.port}`;
  const pidFile = `${spec.dir}/mariadb.pid`;
  // Gone, not just refusing connections: it stops answering before it has finished shutting down, and
  // start-stop-daemon will not start a second one while the first still runs.
  const gone = async () => {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (pid && pidAlive(pid)) return false;
    try {
      await sh(`${admin} ping`);
      return false;
    } catch {
      return true;
    }
  };
  return {
    port: spec.port,
    url: (name) => `mysql://root@127.0.0.1:${spec.port}/${name}`,
    async start() {
      if (!existsSync(`${spec.dir}/data/mysql`)) {
        rmSync(spec.dir, { recursive: true, force: true });
        mkdirSync(spec.dir, { recursive: true });
        await sh(
          `chown mysql:mysql ${spec.dir} && mariadb-install-db --user=mysql --datadir=${spec.dir}/data --auth-root-authentication-method=normal --skip-test-db`,
        );
      }
      await sh(
        `start-stop-daemon --start --background --pidfile ${pidFile} --exec /usr/sbin/mariadbd -- --no-defaults --user=mysql --datadir=${spec.dir}/data ` +
          `--port=${spec.port} --bind-address=127.0.0.1 --socket=${spec.dir}/sock --pid-file=${pidFile} --skip-log-bin`,
      );
      await until(`the private MariaDB on port ${spec.port}`, async () => (await sh(`${admin} ping`), true));
    },
    async stop() {
      await sh(`${admin} shutdown`).catch(() => undefined);
      await until(`the private MariaDB on port ${spec.port} to stop`, gone);
    },
  };
}

/** A numbered set of ports and a directory, held by this process until `release`. */
export interface Slot {
  n: number;
  dir: string;
  /** `base + n`, e.g. `port(5690)`. */
  port(base: number): number;
  release(): void;
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
  // A zombie (dead, not reaped: some containers' pid 1 never reaps) still takes signals.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function ownerAlive(lock: string): boolean {
  try {
    return pidAlive(Number(readFileSync(`${lock}/owner`, 'utf8')));
  } catch {
    return true; // no owner file yet: being claimed right now
  }
}

/**
 * Claims the first free slot of `root` (0 to `slots - 1`) whose ports (`bases`, each plus the slot number) are
 * free. The lock is a directory created atomically (mkdir) naming the owner's pid; a lock whose owner has died
 * is taken over by renaming it away first (rename is atomic too, so two processes cannot both take it over).
 * Ports that something else is listening on (a server a killed run left behind, anything) skip the slot: no
 * process found there is ever killed. The claim lasts until `release` (or the owner's death).
 */
export async function claimSlot(root: string, bases: readonly number[], slots = 10): Promise<Slot> {
  mkdirSync(root, { recursive: true });
  for (let n = 0; n < slots; n++) {
    const lock = `${root}/${n}.lock`;
    try {
      mkdirSync(lock);
    } catch {
      if (ownerAlive(lock)) continue;
      try {
        renameSync(lock, `${lock}.stale-${process.pid}`);
        rmSync(`${lock}.stale-${process.pid}`, { recursive: true, force: true });
        mkdirSync(lock);
      } catch {
        continue; // someone else took it over first
      }
    }
    writeFileSync(`${lock}/owner`, String(process.pid));
    const release = () => rmSync(lock, { recursive: true, force: true });
    const free = await Promise.all(bases.map((b) => portFree(b + n)));
    if (free.every(Boolean)) return { n, dir: `${root}/${n}`, port: (base) => base + n, release };
    release();
  }
  throw new Error(`no free slot under ${root}: ${slots} in use or their ports (${bases.join(', ')} + n) taken`);
}
