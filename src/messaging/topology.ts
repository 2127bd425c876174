import type { Channel } from 'amqplib';
import type { DelayLevel } from '../domain/delay-plan';
import { EVENTS_EXCHANGE } from '../domain/order-event-types';

export { EVENTS_EXCHANGE };

export const DELAY_EXCHANGE = 'order.delay';
export const TIMEOUT_EXCHANGE = 'order.timeout';
export const TIMEOUT_QUEUE = 'order.timeout';
export const TIMEOUT_ROUTING_KEY = 'order.timeout';
export const PARKED_QUEUE = 'order.timeout.parked';
const PARKED_DELIVERY_LIMIT = 1_000_000;

/** Webhook retries wait here, routing key `<level>.<target>` (a family of its own: see {@link webhookTopology}). */
export const WEBHOOK_DELAY_EXCHANGE = 'order.webhooks.delay';
/** Where webhook retries go when their wait is over, still keyed `<level>.<target>`. */
export const WEBHOOK_RETRY_EXCHANGE = 'order.webhooks.retry';
export const WEBHOOK_PARKED_QUEUE = 'order.webhooks.parked';
/** Deliveries of one webhook message before RabbitMQ parks it (the process crashed on it that often). */
export const WEBHOOK_DELIVERY_LIMIT = 10;

export const delayQueueName = (level: DelayLevel) => `${DELAY_EXCHANGE}.${level.name}`;
export const webhookDelayQueueName = (level: DelayLevel) => `${WEBHOOK_DELAY_EXCHANGE}.${level.name}`;
/** The queue of one webhook URL; `target` is that URL's id (src/webhooks/targets.ts). */
export const WEBHOOK_QUEUE_PREFIX = 'order.webhooks.url.';
export const webhookQueueName = (target: string) => `${WEBHOOK_QUEUE_PREFIX}${target}`;

export interface ExchangeSpec {
  name: string;
  type: 'direct' | 'topic';
  /** What the exchange is for (documentation kept with the spec; nothing reads it at run time). */
  role?: string;
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
  /** Ids of the configured webhook URLs; one queue each (none: no webhooks). */
  webhookTargets?: readonly string[];
  /**
   * Replicas of each quorum queue when it is first declared (`x-quorum-initial-group-size`); 0 or omitted: not
   * declared, RabbitMQ's default. RabbitMQ compares it on redeclaration, so changing it is a queue migration.
   */
  quorumInitialGroupSize?: number;
}

// At-least-once dead-lettering keeps a message in its source queue until the target confirms it, so a
// missing dead-letter exchange holds messages back instead of dropping them; it requires reject-publish.
const AT_LEAST_ONCE = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } as const;

/** Quorum queue arguments that park, after `limit` deliveries, into `parkedQueue` through the default exchange. */
const parkAfter = (limit: number, parkedQueue: string) => ({
  'x-queue-type': 'quorum',
  'x-delivery-limit': limit,
  'x-dead-letter-exchange': '',
  'x-dead-letter-routing-key': parkedQueue,
  ...AT_LEAST_ONCE,
});

/**
 * Webhooks. Each URL has a queue of its own bound to every event, so one slow or dead receiver only backs up its
 * own queue. Retries wait in a delay family of their own: the timeouts' delay queues dead-letter with a fixed
 * routing key into order.timeout, and their arguments cannot change on existing brokers. These set no
 * dead-letter routing key, so an expired retry keeps its `<level>.<target>` key and the retry exchange routes it
 * back to its URL's queue (`#.<target>`).
 */
function webhookTopology(levels: readonly DelayLevel[], targets: readonly string[]): Topology {
  const delayQueues: QueueSpec[] = levels.map((level) => ({
    name: webhookDelayQueueName(level),
    role: `holds webhook retries ${level.name} (queue TTL), then dead-letters them to ${WEBHOOK_RETRY_EXCHANGE}; no consumers`,
    arguments: {
      'x-queue-type': 'quorum',
      'x-message-ttl': level.ms,
      'x-dead-letter-exchange': WEBHOOK_RETRY_EXCHANGE,
      ...AT_LEAST_ONCE,
    },
  }));
  const urlQueues: QueueSpec[] = targets.map((target) => ({
    name: webhookQueueName(target),
    role: `every event, for one webhook URL; consumed by its dispatcher; poison messages go on to ${WEBHOOK_PARKED_QUEUE}`,
    arguments: parkAfter(WEBHOOK_DELIVERY_LIMIT, WEBHOOK_PARKED_QUEUE),
  }));
  return {
    // The events exchange itself is declared with the rest (buildTopology): webhook queues only bind to it.
    exchanges: [
      { name: WEBHOOK_DELAY_EXCHANGE, type: 'topic' },
      { name: WEBHOOK_RETRY_EXCHANGE, type: 'topic' },
    ],
    queues: [
      ...delayQueues,
      ...urlQueues,
      {
        name: WEBHOOK_PARKED_QUEUE,
        role: 'webhook deliveries that kept failing, with x-park-reason and x-webhook-url; listed and replayed by the CLI',
        arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': PARKED_DELIVERY_LIMIT },
      },
    ],
    bindings: [
      ...levels.map((level, i) => ({
        exchange: WEBHOOK_DELAY_EXCHANGE,
        queue: delayQueues[i]!.name,
        routingKey: `${level.name}.#`,
      })),
      ...targets.flatMap((target) => [
        { exchange: EVENTS_EXCHANGE, queue: webhookQueueName(target), routingKey: '#' },
        { exchange: WEBHOOK_RETRY_EXCHANGE, queue: webhookQueueName(target), routingKey: `#.${target}` },
      ]),
    ],
  };
}

/**
 * Every quorum queue with `x-quorum-initial-group-size`, when configured. Only when asked: an argument added to
 * existing queues would make every redeclaration fail with 406.
 */
function withGroupSize(queues: QueueSpec[], size: number | undefined): QueueSpec[] {
  if (!size) return queues;
  return queues.map((q) =>
    q.arguments['x-queue-type'] === 'quorum'
      ? { ...q, arguments: { ...q.arguments, 'x-quorum-initial-group-size': size } }
      : q,
  );
}

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
  const webhooks = webhookTopology(opts.levels, opts.webhookTargets ?? []);
  return {
    exchanges: [
      { name: DELAY_EXCHANGE, type: 'direct' },
      { name: TIMEOUT_EXCHANGE, type: 'direct' },
      {
        name: EVENTS_EXCHANGE,
        type: 'topic',
        role: 'order events for other systems (routing key order.<type>); consumers bind their own queues',
      },
      ...webhooks.exchanges,
    ],
    queues: withGroupSize(
      [
        ...delayQueues,
        {
          name: TIMEOUT_QUEUE,
          role: 'due timeouts; consumed by the closer; poison messages go on to the parked queue',
          arguments: parkAfter(opts.deliveryLimit, PARKED_QUEUE),
        },
        {
          name: PARKED_QUEUE,
          role: 'messages that could not be processed, with x-park-reason; listed and replayed by the CLI',
          // Listing returns messages unacknowledged, which counts as a delivery. RabbitMQ 4 defaults to a limit
          // of 20 and, with no dead-letter exchange, would drop them; 3.10 reads -1 as 0. A limit no one reaches.
          arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': PARKED_DELIVERY_LIMIT },
        },
        ...webhooks.queues,
      ],
      opts.quorumInitialGroupSize,
    ),
    bindings: [
      ...delayQueues.map((q, i) => ({ exchange: DELAY_EXCHANGE, queue: q.name, routingKey: opts.levels[i]!.name })),
      { exchange: TIMEOUT_EXCHANGE, queue: TIMEOUT_QUEUE, routingKey: TIMEOUT_ROUTING_KEY },
      ...webhooks.bindings,
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
