import amqp from 'amqplib';
import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import { redactUrl } from '../config';
import { errorMessage, logger } from '../log';
import { assertTopology, TopologyMismatchError, type Topology } from './topology';

/** Options for {@link connectBroker}. */
export interface BrokerOptions {
  /** AMQP URL, vhost included. */
  url: string;
  /** Heartbeat interval in ms; a broker silent for two of them counts as gone. */
  heartbeatMs: number;
}

/** A self-healing connection: reconnects, and re-runs every channel's setup (topology included) each time. */
export function connectBroker(opts: BrokerOptions): AmqpConnectionManager {
  const heartbeat = Math.max(1, Math.round(opts.heartbeatMs / 1000));
  const connection = connect([opts.url], { heartbeatIntervalInSeconds: heartbeat, reconnectTimeInSeconds: 1 });
  const where = redactUrl(opts.url);
  connection.on('connect', () => logger.info('broker connected', { broker: where }));
  connection.on('disconnect', ({ err }) => logger.warn('broker disconnected', { broker: where, err: err ? errorMessage(err) : undefined }));
  connection.on('connectFailed', ({ err }) => logger.warn('broker connection failed', { broker: where, err: errorMessage(err) }));
  connection.on('blocked', ({ reason }) => logger.warn('broker blocked publishing', { reason }));
  return connection;
}

/**
 * Declares the topology once on a plain connection, at start-up, so a clash with an existing queue stops the
 * process with a clear message instead of looping. A broker that is not up yet is not an error: the managed
 * connection declares everything when it connects.
 */
export async function checkTopologyAtStart(url: string, topology: Topology): Promise<void> {
  let conn: amqp.ChannelModel;
  try {
    conn = await amqp.connect(url);
  } catch (err) {
    logger.warn('broker not reachable at start-up; orders are kept in the outbox until it is', { broker: redactUrl(url), err: errorMessage(err) });
    return;
  }
  try {
    conn.on('error', () => undefined);
    const channel = await conn.createChannel();
    channel.on('error', () => undefined);
    await assertTopology(channel, topology);
    await channel.close().catch(() => undefined);
  } catch (err) {
    if (err instanceof TopologyMismatchError) throw err;
    throw new Error(`declaring the RabbitMQ topology failed: ${errorMessage(err)}`);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** What went wrong with the broker that reconnecting cannot fix; shown by /readyz. */
export interface BrokerHealth {
  topologyError?: string;
}

/**
 * A channel error (a publish to a deleted exchange, an unknown delivery tag) closes just that channel, and
 * amqp-connection-manager only replaces channels on a new connection: reconnect, which re-declares the topology.
 * Not after a topology clash, though: that would loop (declare, 406, reconnect, declare…).
 */
export function reconnectOnChannelLoss(channel: Channel, connection: AmqpConnectionManager, name: string, stopping: () => boolean, health: BrokerHealth): void {
  // Without an error listener amqplib escalates a channel error to the whole connection.
  channel.on('error', (err) => logger.warn('channel error', { channel: name, err: errorMessage(err) }));
  channel.on('close', () => {
    if (stopping() || health.topologyError || !connection.isConnected()) return;
    logger.warn('channel closed while connected; reconnecting', { channel: name });
    connection.reconnect();
  });
}

/** Runs a channel setup; a topology clash is recorded once, loudly, instead of being retried. */
export async function declareOrRecord(health: BrokerHealth, declare: () => Promise<void>): Promise<void> {
  try {
    await declare();
  } catch (err) {
    if (err instanceof TopologyMismatchError) {
      if (!health.topologyError) logger.error('RabbitMQ topology clash; timeouts are not processed until it is fixed and the service restarted', { err: err.message });
      health.topologyError = err.message;
    }
    throw err;
  }
}
