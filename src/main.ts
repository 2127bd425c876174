import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import { ConfigError, loadConfig, redactUrl, seedPolicy as configuredPolicy, type AppConfig } from './config';
import { assertAutoIncrementStep, assertSchemaCurrent, connectDatabase, migrateDatabase } from './db/connect';
import type { EventWriting } from './db/order-event-outbox';
import { outboxBacklog } from './db/outbox-repo';
import { seedPolicy } from './db/policy-repo';
import { holdPolicy, policyText } from './domain/policy';
import { logPolicyAdopted, watchPolicy } from './jobs/policy-watch';
import { loadEnvFile } from './env-file';
import { createHttpApp } from './http/app';
import { errorFields, logger, setLogLevel } from './log';
import { createMetrics } from './metrics';
import type { UseCaseDeps } from './orders/use-case-deps';
import { checkTopologyAtStart, connectBroker, type BrokerHealth } from './messaging/broker';
import { OutboxRelay } from './messaging/outbox-relay';
import { Publisher } from './messaging/publisher';
import { serviceTopology } from './messaging/service-topology';
import { startCloserRole, type CloserRole } from './closer-role';

/** A running service; `stop` drains it. */
export interface ServiceHandle {
  port: number;
  db: Knex;
  useCases: UseCaseDeps;
  stop(): Promise<void>;
}

/**
 * Wires and starts the roles of one process (`config.roles`; by default all of them): migrations (or, with
 * `mysql.migrateOnStart` off, a check that none is pending), RabbitMQ topology, outbox relay, the HTTP API, and
 * the closer role (timeout closer, webhook deliveries, sweeper, retention).
 */
export async function startService(config: AppConfig): Promise<ServiceHandle> {
  setLogLevel(config.log.level);
  logger.info('starting', {
    roles: config.roles.join(','),
    mysql: redactUrl(config.mysql.url),
    amqp: config.amqp.urls.map(redactUrl).join(','),
  });
  const topology = serviceTopology(config);
  if (config.mysql.migrateOnStart) await migrateDatabase(config.mysql);
  else await assertSchemaCurrent(config.mysql);
  await checkTopologyAtStart(config.amqp.urls, topology);

  // The service's transactions (create, close) send their statements together, in one round trip each. HTTP and
  // the background work (closer, sweeper, relay, retention) have a pool each: a flood of requests cannot starve
  // the closer of connections, so timeouts close on time however busy the API is. Pools open connections when
  // used and close idle ones, so a closer-only process soon holds none of the API's (start-up uses one).
  const db = connectDatabase({ ...config.mysql, multipleStatements: true });
  await assertAutoIncrementStep(db);
  const backgroundDb = connectDatabase({
    ...config.mysql,
    poolSize: config.mysql.backgroundPoolSize,
    multipleStatements: true,
  });
  const now = () => new Date();
  const processId = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  let draining = false;

  const health: BrokerHealth = {};
  const connection = connectBroker({ urls: config.amqp.urls, heartbeatMs: config.amqp.heartbeat });
  // What /readyz checks, by dependency; /metrics reports the same checks as order_timeout_ready.
  const dependencies = {
    broker: () => connection.isConnected(),
    'broker-topology': () => !health.topologyError,
    // Checked on the background pool: a saturated API pool is load, not a dead database, and must not take every
    // instance out of the load balancer at once.
    database: () =>
      backgroundDb.raw('SELECT 1').then(
        () => true,
        () => false,
      ),
  };
  let closerRole: CloserRole | undefined;
  const runsCloser = config.roles.includes('closer');
  const metrics = createMetrics({
    outboxBacklog: () => outboxBacklog(backgroundDb, now()),
    readiness: dependencies,
    // Only where a closer runs: an API-only process has none, and must not look like a closer that stopped.
    closerConsumers: runsCloser ? () => closerRole?.consumerCount() ?? 0 : undefined,
    webhookTargets: runsCloser ? config.webhooks.urls.length : 0,
  });
  const publisher = new Publisher(connection, topology, config.amqp.publishTimeout, health);
  const relay = new OutboxRelay({
    db: backgroundDb,
    publisher,
    levels: config.delayLevels,
    processId,
    claimForMs: config.outbox.claimFor,
    intervalMs: config.outbox.relayInterval,
    batchSize: config.outbox.batchSize,
    now,
    onEventPublished: (kind) => metrics.countEventPublished(kind),
    // A backlog drain gives the holds back first; the events it wrote follow once it ends (docs/architecture.md).
    eventsMayGo: () => closerRole?.drainRunning(),
  });
  // Order events (contract §9): written in each transition's transaction, claimed by this process and handed to the
  // relay after commit, like the timeouts.
  const events: EventWriting | undefined = config.events.enabled
    ? { owner: processId, claimForMs: config.outbox.claimFor, written: (rows) => relay.publishNow(rows) }
    : undefined;
  // The policy in force: the newest stored version (the environment seeds version 1), polled for changes.
  const policy = holdPolicy(await seedPolicy(db, policyText(configuredPolicy(config)), now()));
  logPolicyAdopted(policy.current(), 'policy in force');
  const policyWatch = watchPolicy({ db: backgroundDb, holder: policy, intervalMs: config.policy.pollInterval });

  const useCases: UseCaseDeps = {
    db,
    policy,
    latePaymentPolicy: config.payments.latePaymentPolicy,
    now,
    processId,
    claimForMs: config.outbox.claimFor,
    events,
    onScheduled: (messages) => relay.publishNow(messages),
    onClosed: (closed, source) => metrics.countClosed(closed, source),
    onReturned: (returned) => metrics.countReturned(returned),
    onCreated: (order) => metrics.countCreated(order),
    onPaid: (order) => metrics.countPaid(order),
    onLatePayment: (outcome) => metrics.countLatePayment(outcome),
    onRefundRequired: (reason) => metrics.countRefundRequired(reason),
  };

  relay.start();
  if (runsCloser)
    closerRole = startCloserRole({
      config,
      db: backgroundDb,
      connection,
      publisher,
      topology,
      health,
      metrics,
      events,
      now,
    });

  const readiness = async () => {
    const down: string[] = draining ? ['draining'] : [];
    for (const [name, up] of Object.entries(dependencies)) if (!(await up())) down.push(name);
    return down;
  };

  const app = createHttpApp({
    serveApi: config.roles.includes('api'),
    useCases,
    paymentWebhookSecret: config.payments.webhookSecret,
    adminToken: config.admin.token,
    bodyLimit: config.http.bodyLimit,
    readiness,
    metrics: metrics.registry,
    observeRequest: (...args) => metrics.observeRequest(...args),
    admission: {
      maxInFlight: config.http.maxInFlight,
      maxQueueWaitMs: config.http.maxQueueWait,
      onShed: (reason) => metrics.countShed(reason),
    },
  });
  // Slow or stalled clients get 408 and lose their connection; Node checks the deadlines every
  // `connectionsCheckingInterval` (30 s by default, which would let them linger that much longer).
  const server = createServer(
    {
      requestTimeout: config.http.requestTimeout,
      headersTimeout: config.http.headersTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(config.http.headersTimeout / 4))),
    },
    app,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('listening', { port });

  return {
    port,
    db,
    useCases,
    async stop() {
      // /readyz turns 503 first while requests are still served, so a load balancer takes this instance out of
      // rotation before the listener closes; clients sent here meanwhile are still answered.
      draining = true;
      if (config.shutdown.readinessDelay > 0) {
        logger.info('not ready; closing the listener after the readiness delay', {
          delayMs: config.shutdown.readinessDelay,
        });
        await new Promise((resolve) => setTimeout(resolve, config.shutdown.readinessDelay));
      }
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await serverClosed;
      await closerRole?.stop();
      await policyWatch.stop();
      await relay.stop();
      await publisher.close();
      await connection.close();
      await db.destroy();
      await backgroundDb.destroy();
      logger.info('stopped');
    },
  };
}

async function main(): Promise<void> {
  let config: AppConfig;
  let envFile: string | undefined;
  try {
    envFile = loadEnvFile();
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (envFile) logger.info('environment file loaded', { file: envFile });
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
        logger.error('error while stopping', { ...errorFields(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((err) => {
    logger.error('start-up failed', { ...errorFields(err) });
    process.exit(1);
  });
}
