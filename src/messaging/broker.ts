import amqp from 'amqplib';
import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import { nodeAddress, redactUrl } from '../broker-urls';
import { errorFields, errorMessage, logger } from '../log';
import { assertTopology, TopologyMismatchError, type Topology } from './topology';

/** Options for {@link connectBroker}. */
export interface BrokerOptions {
  /** AMQP URLs, vhost included: one, or every node of one cluster (tried in turn). */
  urls: readonly string[];
  /** Heartbeat interval in ms; a broker silent for two of them counts as gone. */
  heartbeatMs: number;
}

/** How the manager names the URL it (re)connected to; we only ever hand it strings. */
const urlText = (url: unknown): string => (typeof url === 'string' ? url : '<connection options>');

/**
 * A self-healing connection: reconnects, and re-runs every channel's setup (topology included) each time. With
 * several URLs, amqp-connection-manager tries them round robin: the first at start, and after a lost connection
 * or a failed attempt the next one (a second later), so a node that is down is passed over. Each (re)connect
 * logs which node is in use.
 */
export function connectBroker(opts: BrokerOptions): AmqpConnectionManager {
  const heartbeat = Math.max(1, Math.round(opts.heartbeatMs / 1000));
  const connection = connect([...opts.urls], {
    heartbeatIntervalInSeconds: heartbeat,
    reconnectTimeInSeconds: 1,
    // A node that does not answer at all (a host gone, packets dropped) is given up after this, not the OS's minutes.
    connectionOptions: { timeout: Math.max(1_000, opts.heartbeatMs) },
  });
  const nodes = opts.urls.length;
  let current = '';
  connection.on('connect', ({ url }) => {
    current = nodeAddress(urlText(url));
    logger.info('broker connected', { broker: redactUrl(urlText(url)), node: current, nodes });
  });
  connection.on('disconnect', ({ err }) =>
    logger.warn('broker disconnected', { node: current, nodes, ...(err ? errorFields(err) : {}) }),
  );
  connection.on('connectFailed', ({ err, url }) =>
    logger.warn('broker connection failed', {
      broker: redactUrl(urlText(url)),
      node: nodeAddress(urlText(url)),
      nodes,
      ...errorFields(err),
    }),
  );
  connection.on('blocked', ({ reason }) => logger.warn('broker blocked publishing', { reason, node: current }));
  return connection;
}

/**
 * A plain connection to the first of `urls` that answers (start-up checks, the CLI). Throws the last error,
 * naming every node tried, when none does.
 */
export async function connectFirst(urls: readonly string[]): Promise<amqp.ChannelModel> {
  const failures: string[] = [];
  let last: unknown;
  for (const url of urls) {
    try {
      return await amqp.connect(url, { timeout: 10_000 });
    } catch (err) {
      last = err;
      failures.push(`${nodeAddress(url)}: ${errorMessage(err)}`);
    }
  }
  throw new Error(urls.length > 1 ? `no node answered (${failures.join('; ')})` : errorMessage(last), { cause: last });
}

/**
 * Declares the topology once on a plain connection, at start-up, so a clash with an existing queue stops the
 * process with a clear message instead of looping. A broker that is not up yet is not an error: the managed
 * connection declares everything when it connects.
 */
export async function checkTopologyAtStart(urls: readonly string[], topology: Topology): Promise<void> {
  let conn: amqp.ChannelModel;
  try {
    conn = await connectFirst(urls);
  } catch (err) {
    logger.warn('broker not reachable at start-up; orders are kept in the outbox until it is', {
      broker: urls.map(redactUrl).join(','),
      ...errorFields(err),
    });
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
    throw new Error(`declaring the RabbitMQ topology failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** What went wrong with the broker that reconnecting cannot fix; shown by /readyz. */
export interface BrokerHealth {
  topologyError?: string;
}

/** First wait before a forced reconnect, and the longest one when channels keep dying right after it. */
const FORCED_RECONNECT_MIN_MS = 1_000;
const FORCED_RECONNECT_MAX_MS = 15_000;
const forcedReconnects = new WeakMap<
  AmqpConnectionManager,
  { timer?: NodeJS.Timeout; delayMs: number; lastAt: number }
>();

/**
 * A channel error (a publish to a deleted exchange, an unknown delivery tag) closes just that channel, and
 * amqp-connection-manager only replaces channels on a new connection: reconnect, which re-declares the topology.
 * Not after a topology clash, though: that would loop (declare, 406, reconnect, declare…).
 *
 * The reconnect is decided a moment later, once per connection, and only if the connection the channel lived on
 * is still the current one: when the whole connection drops, amqplib closes its channels before the manager
 * notices, and the manager reconnects on its own. A setup that keeps failing in a way that closes its channel
 * (e.g. 403: the user lost its configure permission) backs off, up to 15 s, instead of reconnecting in a hot loop.
 */
export function reconnectOnChannelLoss(
  channel: Channel,
  connection: AmqpConnectionManager,
  name: string,
  stopping: () => boolean,
  health: BrokerHealth,
): void {
  // The amqplib connection this channel belongs to (setup runs right after the manager made it current).
  const owner = connection.connection;
  // Without an error listener amqplib escalates a channel error to the whole connection.
  channel.on('error', (err) => logger.warn('channel error', { channel: name, ...errorFields(err) }));
  channel.on('close', () => {
    if (stopping() || health.topologyError || !owner) return;
    const state = forcedReconnects.get(connection) ?? { delayMs: FORCED_RECONNECT_MIN_MS, lastAt: 0 };
    forcedReconnects.set(connection, state);
    if (state.timer) return; // another channel of this connection already asked
    // Channels that die again soon after a forced reconnect double the wait; a quiet spell resets it.
    const sinceLast = Date.now() - state.lastAt;
    state.delayMs =
      state.lastAt > 0 && sinceLast < state.delayMs + 5_000
        ? Math.min(state.delayMs * 2, FORCED_RECONNECT_MAX_MS)
        : FORCED_RECONNECT_MIN_MS;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (stopping() || health.topologyError || connection.connection !== owner) return;
      logger.warn('channel closed while connected; reconnecting', { channel: name, afterMs: state.delayMs });
      state.lastAt = Date.now();
      try {
        connection.reconnect();
      } catch {
        /* the manager was closed meanwhile */
      }
    }, state.delayMs);
    state.timer.unref();
  });
}

/** Runs a channel setup; a topology clash is recorded once, loudly, instead of being retried. */
export async function declareOrRecord(health: BrokerHealth, declare: () => Promise<void>): Promise<void> {
  try {
    await declare();
  } catch (err) {
    if (err instanceof TopologyMismatchError) {
      if (!health.topologyError)
        logger.error(
          'RabbitMQ topology clash; timeouts are not processed until it is fixed and the service restarted',
          { err: err.message },
        );
      health.topologyError = err.message;
    }
    throw err;
  }
}
