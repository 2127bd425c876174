import type { Knex } from 'knex';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type { AppConfig } from './config';
import type { EventWriting } from './db/order-event-outbox';
import { startRetention } from './jobs/retention';
import { startSweeper } from './jobs/sweeper';
import type { Metrics } from './metrics';
import type { BrokerHealth } from './messaging/broker';
import { Closer } from './messaging/closer';
import type { Publisher } from './messaging/publisher';
import type { Topology } from './messaging/topology';
import { WebhookDispatcher } from './webhooks/dispatcher';
import { webhookKey } from './webhooks/signing';
import { webhookTargets } from './webhooks/targets';

/** What the closer role is started with: the process's shared parts. */
export interface CloserRoleDeps {
  /** The process's validated configuration (closer, webhooks, sweeper, retention sections). */
  config: AppConfig;
  /** The background pool: the closer's transactions never wait for HTTP's connections. */
  db: Knex;
  /** The process's managed broker connection; the closer and each webhook URL open channels of their own on it. */
  connection: AmqpConnectionManager;
  /** Confirmed publishing (delay levels, parking, webhook retries). */
  publisher: Publisher;
  /** The topology each consumer channel declares when it (re)connects. */
  topology: Topology;
  /** Shared record of broker problems reconnecting cannot fix (shown by /readyz). */
  health: BrokerHealth;
  /** Where the closer, webhooks and sweeper report. */
  metrics: Metrics;
  /** How transitions write their order events (undefined: events are off). */
  events: EventWriting | undefined;
  /** The clock. */
  now: () => Date;
}

/** The running closer role; `stop` drains it. */
export interface CloserRole {
  /** Consumers the closer has on `order.timeout` right now (the closer-consumers gauge). */
  consumerCount(): number;
  /** The closer's backlog drain running now, resolving when it ends; undefined when none runs. */
  drainRunning(): Promise<void> | undefined;
  stop(): Promise<void>;
}

/**
 * The closer role (`SERVICE_ROLES` includes `closer`): the timeout closer (every timer kind), webhook deliveries, the
 * sweeper that backs the timers up, and retention of sent outbox rows and idempotency keys.
 */
export function startCloserRole(deps: CloserRoleDeps): CloserRole {
  const { config, db, connection, publisher, topology, health, metrics, events, now } = deps;
  const closer = new Closer({
    db,
    connection,
    publisher,
    topology,
    levels: config.delayLevels,
    prefetch: config.closer.prefetch,
    batchSize: config.closer.batchSize,
    concurrency: config.closer.concurrency,
    drainLanes: config.closer.drainLanes,
    drainBatchSize: config.closer.drainBatchSize,
    maxAttempts: config.closer.maxAttempts,
    now,
    health,
    observer: metrics.closer,
    events,
  });
  // Webhooks have their own channels and prefetch (one per URL), so a slow receiver cannot hold up the closer.
  const webhooks =
    config.webhooks.urls.length > 0
      ? new WebhookDispatcher({
          connection,
          publisher,
          topology,
          targets: webhookTargets(config.webhooks.urls),
          key: webhookKey(config.webhooks.secret),
          levels: config.delayLevels,
          timeoutMs: config.webhooks.timeout,
          maxAgeMs: config.webhooks.maxAge,
          concurrency: config.webhooks.concurrency,
          now,
          health,
          observer: metrics.webhooks,
        })
      : undefined;
  closer.start();
  webhooks?.start();
  const sweeper = startSweeper({
    db,
    now,
    graceMs: config.sweeper.grace,
    batchSize: config.sweeper.batchSize,
    intervalMs: config.sweeper.interval,
    events,
    onFired: (kind, fired) => metrics.countFired(kind, fired, 'sweeper'),
    onFailed: () => metrics.countSweepFailure(),
  });
  const retention = startRetention({
    db,
    now,
    intervalMs: config.retention.interval,
    batchSize: config.retention.batchSize,
    rules: [
      { table: 'outbox', column: 'sent_at', retainMs: config.outbox.retainSent },
      { table: 'idempotency_keys', column: 'created_at', retainMs: config.idempotency.retention },
    ],
  });
  return {
    consumerCount: () => closer.consumerCount,
    drainRunning: () => closer.drainRunning(),
    async stop() {
      await Promise.all([closer.stop(), webhooks?.stop()]);
      await sweeper.stop();
      await retention.stop();
    },
  };
}
