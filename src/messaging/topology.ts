import type { Channel } from 'amqplib';
import type { DelayLevel } from '../domain/delay-plan';

export const DELAY_EXCHANGE = 'order.delay';
export const TIMEOUT_EXCHANGE = 'order.timeout';
export const TIMEOUT_QUEUE = 'order.timeout';
export const TIMEOUT_ROUTING_KEY = 'order.timeout';
export const PARKED_QUEUE = 'order.timeout.parked';
const PARKED_DELIVERY_LIMIT = 1_000_000;

export const delayQueueName = (level: DelayLevel) => `${DELAY_EXCHANGE}.${level.name}`;

export interface ExchangeSpec {
  name: string;
  type: 'direct';
}

export interface QueueSpec {
  name: string;
  /** What the queue is for (documentation kept with the spec; nothing reads it at run time). */
  role: string;
  arguments: Record<string, string | number>;
}

export interface BindingSpec {
  exchange: string;
  queue: string;
  routingKey: string;
}

/** Every RabbitMQ object the service relies on; declared on each (re)connect and exported as definitions. */
export interface Topology {
  exchanges: ExchangeSpec[];
  queues: QueueSpec[];
  bindings: BindingSpec[];
}

/** Options for {@link buildTopology}. */
export interface TopologyOptions {
  /** Delay levels; one TTL queue each. */
  levels: readonly DelayLevel[];
  /** Deliveries of one message on `order.timeout` before it is dead-lettered to the parked queue. */
  deliveryLimit: number;
}

// At-least-once dead-lettering keeps a message in its source queue until the target confirms it, so a
// missing dead-letter exchange holds messages back instead of dropping them; it requires reject-publish.
const AT_LEAST_ONCE = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } as const;

export function buildTopology(opts: TopologyOptions): Topology {
  const delayQueues: QueueSpec[] = opts.levels.map((level) => ({
    name: delayQueueName(level),
    role: `holds timeouts ${level.name} (queue TTL), then dead-letters them to ${TIMEOUT_EXCHANGE}; no consumers`,
    arguments: {
      'x-queue-type': 'quorum',
      'x-message-ttl': level.ms,
      'x-dead-letter-exchange': TIMEOUT_EXCHANGE,
      'x-dead-letter-routing-key': TIMEOUT_ROUTING_KEY,
      ...AT_LEAST_ONCE,
    },
  }));
  return {
    exchanges: [
      { name: DELAY_EXCHANGE, type: 'direct' },
      { name: TIMEOUT_EXCHANGE, type: 'direct' },
    ],
    queues: [
      ...delayQueues,
      {
        name: TIMEOUT_QUEUE,
        role: 'due timeouts; consumed by the closer; poison messages go on to the parked queue',
        arguments: {
          'x-queue-type': 'quorum',
          'x-delivery-limit': opts.deliveryLimit,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': PARKED_QUEUE,
          ...AT_LEAST_ONCE,
        },
      },
      {
        name: PARKED_QUEUE,
        role: 'messages that could not be processed, with x-park-reason; listed and replayed by the CLI',
        // Listing returns messages unacknowledged, which counts as a delivery. RabbitMQ 4 defaults to a limit
        // of 20 and, with no dead-letter exchange, would drop them; 3.10 reads -1 as 0. A limit no one reaches.
        arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': PARKED_DELIVERY_LIMIT },
      },
    ],
    bindings: [
      ...delayQueues.map((q, i) => ({ exchange: DELAY_EXCHANGE, queue: q.name, routingKey: opts.levels[i]!.name })),
      { exchange: TIMEOUT_EXCHANGE, queue: TIMEOUT_QUEUE, routingKey: TIMEOUT_ROUTING_KEY },
    ],
  };
}

/** Raised when the broker already has a queue or exchange declared with other arguments. */
export class TopologyMismatchError extends Error {}

const INEQUIVALENT =
  /inequivalent arg '([^']+)' for (queue|exchange) '([^']+)' in vhost '([^']*)': received (.*?) but current is (.*?)"?$/;

/** Turns the broker's 406 PRECONDITION_FAILED text into a message an operator can act on. */
export function explainPreconditionFailed(err: unknown): TopologyMismatchError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!/PRECONDITION_FAILED|406/.test(message)) return undefined;
  const m = INEQUIVALENT.exec(message);
  if (!m) return new TopologyMismatchError(`RabbitMQ refused the topology: ${message}`);
  const [, arg, kind, name, vhost, ours, theirs] = m;
  return new TopologyMismatchError(
    `${kind} '${name}' (vhost '${vhost}') already exists with a different ${arg}: the broker has ${theirs}, this service wants ${ours}. ` +
      `Delete or migrate the ${kind} (see docs/operations.md, "Changing delay levels and other queue arguments"), or change the configuration back.`,
  );
}

/**
 * Declares the topology on a channel. A 406 closes the channel; it is rethrown as a TopologyMismatchError,
 * which callers must treat as final: declaring again would fail again.
 */
export async function assertTopology(channel: Channel, topology: Topology): Promise<void> {
  try {
    for (const ex of topology.exchanges)
      await channel.assertExchange(ex.name, ex.type, { durable: true, autoDelete: false });
    for (const q of topology.queues)
      await channel.assertQueue(q.name, { durable: true, autoDelete: false, exclusive: false, arguments: q.arguments });
    for (const b of topology.bindings) await channel.bindQueue(b.queue, b.exchange, b.routingKey);
  } catch (err) {
    throw explainPreconditionFailed(err) ?? err;
  }
}
