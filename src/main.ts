import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import { ConfigError, loadConfig, redactUrl, type AppConfig } from './config';
import { connectDatabase, migrateDatabase } from './db/connect';
import { createHttpApp } from './http/app';
import { errorMessage, logger, setLogLevel } from './log';
import { createMetrics } from './metrics';
import type { OrderContext } from './orders/order-context';

/** A running service; `stop` drains it. */
export interface ServiceHandle {
  port: number;
  db: Knex;
  orders: OrderContext;
  stop(): Promise<void>;
}

/** Wires and starts everything: migrations, HTTP API. */
export async function startService(config: AppConfig): Promise<ServiceHandle> {
  setLogLevel(config.log.level);
  logger.info('starting', { mysql: redactUrl(config.mysql.url), amqp: redactUrl(config.amqp.url) });
  await migrateDatabase(config.mysql);
  const db = connectDatabase(config.mysql);
  const metrics = createMetrics();
  let draining = false;

  const orders: OrderContext = {
    db,
    paymentTimeouts: config.orderPaymentTimeouts,
    now: () => new Date(),
    processId: `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    claimForMs: config.outbox.claimFor,
    onClosed: (closed, source) => metrics.countClosed(closed.length, source),
  };

  const readiness = async () => {
    const down: string[] = [];
    if (draining) down.push('draining');
    try {
      await db.raw('SELECT 1');
    } catch {
      down.push('database');
    }
    return down;
  };

  const app = createHttpApp({ orders, bodyLimit: config.http.bodyLimit, readiness, metrics: metrics.registry, observeRequest: metrics.observeRequest });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(config.http.port, () => resolve(s));
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const port = (server.address() as AddressInfo).port;
  logger.info('listening', { port });

  return {
    port,
    db,
    orders,
    async stop() {
      draining = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.destroy();
      logger.info('stopped');
    },
  };
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const service = await startService(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('draining', { signal });
    const force = setTimeout(() => {
      logger.error('drain took too long, exiting', { timeoutMs: config.shutdown.timeout });
      process.exit(1);
    }, config.shutdown.timeout);
    force.unref();
    service.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error('error while stopping', { err: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((err) => {
    logger.error('start-up failed', { err: errorMessage(err) });
    process.exit(1);
  });
}
