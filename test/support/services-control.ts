import { exec } from 'node:child_process';
import { promisify } from 'node:util';
import { sleep } from './scratch';

// How the disruptive tests stop and start the shared services; override for another machine's setup.
const DB_STOP = process.env.TEST_DB_STOP_CMD ?? 'mysqladmin -uroot -h127.0.0.1 shutdown';
const DB_START =
  process.env.TEST_DB_START_CMD ?? 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';
const DB_PING = process.env.TEST_DB_PING_CMD ?? 'mysqladmin -uroot -h127.0.0.1 ping';

// Asynchronous on purpose: the service under test shares this process, and a blocked event loop would
// make its HTTP server drop keep-alive connections the test is using.
const run = async (cmd: string) => (await promisify(exec)(cmd, { timeout: 120_000 })).stdout;

async function waitUntil(cmd: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await run(cmd);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not come back within ${timeoutMs} ms`);
      await sleep(250);
    }
  }
}

export async function stopDatabase(): Promise<void> {
  await run(DB_STOP);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await run(DB_PING);
      await sleep(200);
    } catch {
      return;
    }
  }
  throw new Error('database did not stop');
}

export async function startDatabase(): Promise<void> {
  await run(DB_START);
  await waitUntil(DB_PING, 60_000, 'the database');
}

/** Stops the RabbitMQ application (the node stays up), as `rabbitmqctl stop_app` does. */
export async function stopBrokerApp(): Promise<void> {
  await run('rabbitmqctl stop_app');
}

export async function startBrokerApp(): Promise<void> {
  await run('rabbitmqctl start_app');
  await waitUntil('rabbitmq-diagnostics -q check_running', 60_000, 'RabbitMQ');
  await waitUntil('curl -sf -u guest:guest http://127.0.0.1:15672/api/overview', 60_000, 'the RabbitMQ management API');
}
