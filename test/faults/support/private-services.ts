import { exec } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

// A RabbitMQ node and a MariaDB server of the fault suite's own, on other ports, so scenarios can kill -9,
// SIGSTOP or stop them without touching the services every other test shares.
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

const ROOT = '/tmp/order-timeout-faults';

export const PRIVATE_BROKER = {
  node: 'otfaults@localhost',
  amqpUrl: 'amqp://guest:guest@127.0.0.1:5673',
  managementUrl: 'http://guest:guest@127.0.0.1:15673',
};

const brokerDir = `${ROOT}/rabbitmq`;
const brokerEnv = () => ({
  RABBITMQ_NODENAME: PRIVATE_BROKER.node,
  RABBITMQ_DIST_PORT: '25673',
  RABBITMQ_CONFIG_FILE: `${brokerDir}/rabbitmq.conf`,
  RABBITMQ_ENABLED_PLUGINS_FILE: `${brokerDir}/enabled_plugins`,
  RABBITMQ_MNESIA_BASE: `${brokerDir}/mnesia`,
  RABBITMQ_LOG_BASE: `${brokerDir}/log`,
  RABBITMQ_PID_FILE: `${brokerDir}/rabbit.pid`,
});

const brokerUp = async () =>
  (
    await fetch('http://127.0.0.1:15673/api/overview', {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    })
  ).ok;

/** Starts the private node (fresh data unless `keepData`); resolves once its management API answers. */
export async function startPrivateBroker(keepData = false): Promise<void> {
  if (!keepData) rmSync(brokerDir, { recursive: true, force: true });
  mkdirSync(brokerDir, { recursive: true });
  writeFileSync(`${brokerDir}/rabbitmq.conf`, 'listeners.tcp.default = 5673\nmanagement.tcp.port = 15673\n');
  writeFileSync(`${brokerDir}/enabled_plugins`, '[rabbitmq_management].\n');
  // rabbitmq-server runs as the rabbitmq user when started by root.
  await sh(`chown -R rabbitmq:rabbitmq ${ROOT}/rabbitmq 2>/dev/null || true`);
  await sh('rabbitmq-server -detached', brokerEnv());
  await until('the private RabbitMQ node', brokerUp);
  brokerPid = await readBrokerPid();
}

let brokerPid = 0;

/** The node's Erlang VM, as the node itself reports it (its command line does not name the node). */
export function privateBrokerPid(): number {
  if (!brokerPid) throw new Error('private RabbitMQ node not running');
  return brokerPid;
}

async function readBrokerPid(): Promise<number> {
  const out = await sh(`rabbitmq-diagnostics -n ${PRIVATE_BROKER.node} status`);
  return Number(/OS PID: (\d+)/.exec(out)?.[1] ?? 0);
}

/** kill -9 of the node's Erlang VM: no clean shutdown, connections just drop. */
export async function killPrivateBroker(): Promise<void> {
  process.kill(privateBrokerPid(), 'SIGKILL');
  await until('the private RabbitMQ node to die', async () => !(await brokerUp().catch(() => false)), 30_000);
}

export function pausePrivateBroker(): void {
  process.kill(privateBrokerPid(), 'SIGSTOP');
}

export function resumePrivateBroker(): void {
  process.kill(privateBrokerPid(), 'SIGCONT');
}

export async function stopPrivateBroker(): Promise<void> {
  const pid = brokerPid || (await readBrokerPid().catch(() => 0));
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  brokerPid = 0;
}

const dbDir = `${ROOT}/mariadb`;
export const PRIVATE_DB_PORT = 3307;
const dbPing = `mysqladmin -uroot -h127.0.0.1 -P${PRIVATE_DB_PORT} ping`;

/** The private MariaDB server; creates its data directory on first use. */
export async function startPrivateDatabase(): Promise<void> {
  if (!existsSync(`${dbDir}/data/mysql`)) {
    rmSync(dbDir, { recursive: true, force: true });
    mkdirSync(dbDir, { recursive: true });
    await sh(
      `chown mysql:mysql ${dbDir} && mariadb-install-db --user=mysql --datadir=${dbDir}/data --auth-root-authentication-method=normal --skip-test-db`,
    );
  }
  await sh(
    `start-stop-daemon --start --background --pidfile ${dbDir}/mariadb.pid --exec /usr/sbin/mariadbd -- --no-defaults --user=mysql --datadir=${dbDir}/data ` +
      `--port=${PRIVATE_DB_PORT} --bind-address=127.0.0.1 --socket=${dbDir}/sock --pid-file=${dbDir}/mariadb.pid --skip-log-bin`,
  );
  await until('the private MariaDB', async () => (await sh(dbPing), true));
}

/** A clean shutdown of the private server, as an operator's stop would do. */
export async function stopPrivateDatabase(): Promise<void> {
  await sh(`mysqladmin -uroot -h127.0.0.1 -P${PRIVATE_DB_PORT} shutdown`).catch(() => undefined);
  await until('the private MariaDB to stop', async () => {
    try {
      await sh(dbPing);
      return false;
    } catch {
      return true;
    }
  });
}

export const privateDatabaseUrl = (name: string) => `mysql://root@127.0.0.1:${PRIVATE_DB_PORT}/${name}`;

/** A vhost of its own on the private node, so one scenario's leftovers never reach the next one's service. */
export async function privateVhost(name: string): Promise<string> {
  const auth = {
    authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`,
    'content-type': 'application/json',
  };
  await fetch(`http://127.0.0.1:15673/api/vhosts/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: auth,
    body: '{}',
  });
  await fetch(`http://127.0.0.1:15673/api/permissions/${encodeURIComponent(name)}/guest`, {
    method: 'PUT',
    headers: auth,
    body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }),
  });
  return `${PRIVATE_BROKER.amqpUrl}/${encodeURIComponent(name)}`;
}
