import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import type { DelayLevel } from '../domain/delay-plan';
import { planWebhookRetry } from '../domain/webhook-retry';
import { errorFields, logger } from '../log';
import { declareOrRecord, reconnectOnChannelLoss, type BrokerHealth } from '../messaging/broker';
import { acknowledge, handBack, rejectForRedelivery, type Received } from '../messaging/delivery';
import { InFlight } from '../messaging/in-flight';
import { parkMessage } from '../messaging/park';
import type { Publisher } from '../messaging/publisher';
import { assertTopology, WEBHOOK_DELAY_EXCHANGE, WEBHOOK_PARKED_QUEUE, type Topology } from '../messaging/topology';
import { structuredEvent } from './cloud-event';
import {
  ATTEMPT_HEADER,
  attemptsSoFar,
  FIRST_ATTEMPT_HEADER,
  firstAttemptAt,
  LAST_ERROR_HEADER,
  TARGET_HEADER,
  URL_HEADER,
  withoutDeathHeaders,
} from './delivery-headers';
import { sendWebhook } from './send';
import { signWebhook } from './signing';
import type { WebhookTarget } from './targets';

/** How one delivery ended, for metrics: `attempt` is the attempt number (0: parked unread). */
export interface WebhookObserver {
  delivery?(target: number, outcome: 'delivered' | 'retried' | 'parked', attempt: number): void;
  attemptSeconds?(target: number, seconds: number): void;
}

/** Options for {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  connection: AmqpConnectionManager;
  /** For retries and parking: confirmed publishes. */
  publisher: Publisher;
  topology: Topology;
  targets: readonly WebhookTarget[];
  /** The HMAC key of `WEBHOOK_SECRET`. */
  key: Buffer;
  levels: readonly DelayLevel[];
  timeoutMs: number;
  maxAgeMs: number;
  /** Deliveries in flight per URL: its channel's prefetch. */
  concurrency: number;
  now: () => Date;
  health: BrokerHealth;
  observer?: WebhookObserver;
}

/**
 * Delivers every event to every webhook URL. Each URL has its own queue, its own channel and its own prefetch
 * (`concurrency`), separate from the closer's: a receiver that hangs holds at most `concurrency` of its own
 * messages for `timeoutMs` each, and its backlog waits in its own queue. A message is acknowledged only once its
 * outcome is durable: delivered (2xx), sent to a retry delay (confirmed), or parked (confirmed).
 */
export class WebhookDispatcher {
  private readonly channels: ChannelWrapper[] = [];
  private readonly consumers = new Map<Channel, string>();
  private readonly inFlight = new InFlight('webhook dispatcher failed on a message');
  private readonly stopAll = new AbortController();
  private stopping = false;

  constructor(private readonly opts: WebhookDispatcherOptions) {}

  start(): void {
    for (const target of this.opts.targets) {
      const channel = this.opts.connection.createChannel({
        name: `webhook-${target.index}`,
        setup: (ch: Channel) => this.subscribe(ch, target),
      });
      channel.on('error', (err) =>
        logger.warn('webhook channel setup failed', { url: target.shown, ...errorFields(err) }),
      );
      this.channels.push(channel);
      logger.info('webhook target', { index: target.index, url: target.shown, queue: target.queue });
    }
  }

  /** Stops consuming, cuts the attempts in flight short and hands their messages back, closes the channels. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.consumers].map(([channel, tag]) => channel.cancel(tag).catch(() => undefined)));
    this.stopAll.abort();
    await this.inFlight.settled();
    await Promise.all(this.channels.map((c) => c.close()));
  }

  private async subscribe(channel: Channel, target: WebhookTarget): Promise<void> {
    if (this.stopping) return;
    const name = `webhook-${target.index}`;
    reconnectOnChannelLoss(channel, this.opts.connection, name, () => this.stopping, this.opts.health);
    channel.on('close', () => this.consumers.delete(channel));
    await declareOrRecord(this.opts.health, () => assertTopology(channel, this.opts.topology));
    await channel.prefetch(this.opts.concurrency);
    const { consumerTag } = await channel.consume(
      target.queue,
      (msg) => {
        if (msg) this.inFlight.track(this.deliver({ channel, msg }, target));
        else this.onCancelled(channel, target);
      },
      { noAck: false },
    );
    this.consumers.set(channel, consumerTag);
  }

  /** The broker cancelled the consumer (queue deleted): resubscribe, which re-declares the queue. */
  private onCancelled(channel: Channel, target: WebhookTarget): void {
    this.consumers.delete(channel);
    if (this.stopping) return;
    logger.warn('webhook consumer cancelled by the broker; resubscribing', { queue: target.queue });
    setTimeout(() => {
      this.subscribe(channel, target).catch((err) => logger.error('webhook resubscribe failed', errorFields(err)));
    }, 1000).unref();
  }

  /** One attempt at one URL, then the message's fate: acknowledged, sent to a retry delay, parked, or handed back. */
  private async deliver(d: Received, target: WebhookTarget): Promise<void> {
    const headers = d.msg.properties.headers;
    const attempt = attemptsSoFar(headers) + 1;
    const firstAt = firstAttemptAt(headers) ?? this.opts.now();
    const event = structuredEvent(d.msg.properties, d.msg.content);
    if (!event.ok) return this.park(d, target, event.reason, attempt - 1);
    const started = this.opts.now();
    const outcome = await sendWebhook({
      target,
      body: event.body,
      headers: { ...signWebhook(this.opts.key, event.id, Math.floor(started.getTime() / 1000), event.body) },
      timeoutMs: this.opts.timeoutMs,
      stop: this.stopAll.signal,
    });
    const ended = this.opts.now();
    this.opts.observer?.attemptSeconds?.(target.index, (ended.getTime() - started.getTime()) / 1000);
    const ids = { messageId: event.id, orderId: event.subject, type: event.type, url: target.shown, attempt };
    if (outcome.delivered) {
      logger.debug('webhook delivered', { ...ids, status: outcome.status });
      this.opts.observer?.delivery?.(target.index, 'delivered', attempt);
      return acknowledge(d);
    }
    if (outcome.aborted) return handBack(d);
    const decision = planWebhookRetry(
      attempt,
      ended.getTime() - firstAt.getTime(),
      this.opts.levels,
      this.opts.maxAgeMs,
    );
    const progress = { [ATTEMPT_HEADER]: attempt, [FIRST_ATTEMPT_HEADER]: firstAt.toISOString() };
    if (!decision.retry)
      return this.park(d, target, `${outcome.reason} (gave up after ${attempt} attempts)`, attempt, progress);
    try {
      await this.opts.publisher.publish(WEBHOOK_DELAY_EXCHANGE, `${decision.level.name}.${target.id}`, d.msg.content, {
        messageId: event.id,
        contentType: d.msg.properties.contentType ? String(d.msg.properties.contentType) : undefined,
        headers: {
          ...withoutDeathHeaders(headers),
          ...progress,
          [LAST_ERROR_HEADER]: outcome.reason,
          [TARGET_HEADER]: target.id,
        },
      });
    } catch (err) {
      logger.warn('could not schedule a webhook retry; it will be redelivered', { ...ids, ...errorFields(err) });
      return rejectForRedelivery(d);
    }
    logger.warn('webhook delivery failed; retrying', { ...ids, reason: outcome.reason, retryIn: decision.level.name });
    this.opts.observer?.delivery?.(target.index, 'retried', attempt);
    acknowledge(d);
  }

  private async park(
    d: Received,
    target: WebhookTarget,
    reason: string,
    attempt: number,
    progress: Record<string, unknown> = {},
  ): Promise<void> {
    const messageId = d.msg.properties.messageId ? String(d.msg.properties.messageId) : undefined;
    // The retries' trips through the delay queues are not a death worth showing: the park reason says it all.
    const properties = { ...d.msg.properties, headers: withoutDeathHeaders(d.msg.properties.headers) };
    try {
      await parkMessage(this.opts.publisher, { ...d.msg, properties }, reason, this.opts.now(), {
        queue: WEBHOOK_PARKED_QUEUE,
        from: target.queue,
        headers: { ...progress, [TARGET_HEADER]: target.id, [URL_HEADER]: target.shown },
      });
    } catch (err) {
      logger.error('could not park a webhook delivery; it will be redelivered', { messageId, ...errorFields(err) });
      return rejectForRedelivery(d);
    }
    logger.warn('webhook delivery parked', { messageId, url: target.shown, reason });
    this.opts.observer?.delivery?.(target.index, 'parked', attempt);
    acknowledge(d);
  }
}
