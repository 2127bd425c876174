import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Knex } from 'knex';
import type { EventWriting } from '../db/order-event-outbox';
import { backoffLevel, planDelay, type DelayLevel } from '../domain/delay-plan';
import { parseTimeoutMessage } from '../domain/timeout-message';
import { TIMER_KINDS, type TimerKind, type TimerKindName } from '../domain/timer-kinds';
import { fireDueTimers, type FiredOrder } from '../db/order-transitions';
import { isConnectionError, retryOnConflict } from '../db/retry';
import { errorFields, errorMessage, logger } from '../log';
import { declareOrRecord, reconnectOnChannelLoss, type BrokerHealth } from './broker';
import { BacklogDrain } from './backlog-drain';
import { CloseBatcher, type DueTimeout, type UnclosedOutcomes } from './close-batcher';
import { acknowledge, handBack, rejectForRedelivery, type Received } from './delivery';
import { InFlight } from './in-flight';
import { parkMessage } from './park';
import type { Publisher } from './publisher';
import { delayTimeout } from './schedule-timeout';
import { assertTopology, TIMEOUT_QUEUE, type Topology } from './topology';

/** After a backlog drain failed (an order that cannot be closed), how long the messages alone fire the timers. */
const DRAIN_COOLDOWN_MS = 30_000;

/** What the closer reports, for metrics. All optional. */
export interface CloserObserver {
  fired?(kind: TimerKind, orders: FiredOrder[]): void;
  skipped?(status: string): void;
  parked?(reason: string): void;
  rescheduled?(why: 'early' | 'retry'): void;
  batch?(size: number, seconds: number): void;
}

/** Options for {@link Closer}. */
export interface CloserOptions {
  db: Knex;
  connection: AmqpConnectionManager;
  publisher: Publisher;
  topology: Topology;
  levels: readonly DelayLevel[];
  /** Unacknowledged messages held at once. */
  prefetch: number;
  /** Most orders closed in one transaction. */
  batchSize: number;
  /** Closing transactions run at once (orders and products are locked in id order, so they cannot deadlock). */
  concurrency: number;
  /** Under a backlog: transactions that fire the oldest due timers straight from the database at once (0: never). */
  drainLanes: number;
  /** Under a backlog: most timers fired in one of those transactions. */
  drainBatchSize: number;
  /** Failed attempts (database down, unexpected errors) before a message is parked. */
  maxAttempts: number;
  now: () => Date;
  /** Shared record of unfixable broker problems (topology clashes). */
  health: BrokerHealth;
  observer?: CloserObserver;
  /** Writes the events of the timers it fires; omitted when events are off. */
  events?: EventWriting;
}

/**
 * Consumes `order.timeout`, the timers of every kind (the message names its kind). Each message is acknowledged only
 * once its outcome is durable: the timer fired (committed), found moved on (no-op), sent on to a later level, or
 * parked with a reason. The transactions themselves are the {@link CloseBatcher}s' (one per kind, so a batch is one
 * transition); this class settles each message with the broker.
 */
export class Closer {
  private channel?: ChannelWrapper;
  private readonly batchers = new Map<TimerKindName, CloseBatcher>();
  private readonly drain: BacklogDrain;
  private readonly inFlight = new InFlight('closer failed on a message');
  private readonly consumers = new Map<Channel, string>();
  private readonly held = new Set<{ timer: NodeJS.Timeout; handBack: () => void }>();
  private stopping = false;

  constructor(private readonly opts: CloserOptions) {
    this.drain = new BacklogDrain({
      fire: (kind, limit) =>
        retryOnConflict(() =>
          fireDueTimers(opts.db, kind, { source: kind.source, now: opts.now(), limit, events: opts.events }),
        ),
      lanes: opts.drainLanes,
      batchSize: opts.drainBatchSize,
      cooldownMs: DRAIN_COOLDOWN_MS,
      onFired: (kind, fired, seconds) => this.onFired(kind, fired, seconds),
    });
    for (const kind of TIMER_KINDS) this.batchers.set(kind.name, this.batcherFor(kind));
  }

  /** After each transaction that fired timers, batch or drain: metrics and one log line. */
  private onFired(kind: TimerKind, fired: FiredOrder[], seconds: number): void {
    this.opts.observer?.batch?.(fired.length, seconds);
    this.opts.observer?.fired?.(kind, fired);
    logger.info(kind.firedLog, {
      count: fired.length,
      source: kind.source,
      kind: kind.name,
      orderIds: fired.length <= 20 ? fired.map((c) => c.id) : undefined,
    });
  }

  /** The batcher of one kind, with the backlog drain as the second trigger. */
  private batcherFor(kind: TimerKind): CloseBatcher {
    const { opts } = this;
    return new CloseBatcher({
      db: opts.db,
      kind,
      now: opts.now,
      batchSize: opts.batchSize,
      concurrency: opts.concurrency,
      events: opts.events,
      outcomes: this.outcomes(),
      onClosed: (fired, seconds) => this.onFired(kind, fired, seconds),
      onBacklog: () => this.drain.trigger(kind),
      drainIdle: () => this.drain.idle(kind),
    });
  }

  /** Hands a timer to the batcher of its kind. */
  private fire(d: DueTimeout): Promise<void> {
    return this.batchers.get(d.message.kind)!.close(d);
  }

  start(): void {
    this.channel = this.opts.connection.createChannel({
      name: 'closer',
      setup: (channel: Channel) => this.subscribe(channel),
    });
    this.channel.on('error', (err) => logger.warn('closer channel setup failed', errorFields(err)));
  }

  /** Consumers this closer has on `order.timeout` now: 1 while it consumes, 0 while the broker is gone. */
  get consumerCount(): number {
    return this.consumers.size;
  }

  /** The backlog drain running now, resolving when it ends; undefined when none runs. */
  drainRunning(): Promise<void> | undefined {
    return this.drain.current;
  }

  /** Stops consuming, finishes and acknowledges the messages in hand, closes the channel. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.consumers].map(([channel, tag]) => channel.cancel(tag).catch(() => undefined)));
    const held = [...this.held];
    for (const h of held) h.handBack();
    // Another process closes them: the broker redelivers what this one hands back.
    logger.info('closer stopped consuming; held timeouts handed back', { handedBack: held.length });
    await this.drain.stop();
    await this.inFlight.settled();
    await this.channel?.close();
  }

  private async subscribe(channel: Channel): Promise<void> {
    if (this.stopping) return;
    reconnectOnChannelLoss(channel, this.opts.connection, 'closer', () => this.stopping, this.opts.health);
    channel.on('close', () => this.consumers.delete(channel));
    await declareOrRecord(this.opts.health, () => assertTopology(channel, this.opts.topology));
    await channel.prefetch(this.opts.prefetch);
    const { consumerTag } = await channel.consume(
      TIMEOUT_QUEUE,
      (msg) => {
        if (msg) this.inFlight.track(this.receive(channel, msg));
        else this.onCancelled(channel);
      },
      { noAck: false },
    );
    this.consumers.set(channel, consumerTag);
    logger.info('closer consuming', { queue: TIMEOUT_QUEUE, prefetch: this.opts.prefetch });
  }

  /** The broker cancelled the consumer (queue deleted): resubscribe, which re-declares the queue. */
  private onCancelled(channel: Channel): void {
    this.consumers.delete(channel);
    if (this.stopping) return;
    logger.warn('closer consumer cancelled by the broker; resubscribing', { queue: TIMEOUT_QUEUE });
    setTimeout(() => {
      this.subscribe(channel).catch((err) => {
        logger.error('closer resubscribe failed', errorFields(err));
      });
    }, 1000).unref();
  }

  private async receive(channel: Channel, msg: ConsumeMessage): Promise<void> {
    const messageId = msg.properties.messageId ? String(msg.properties.messageId) : '';
    const parsed = parseTimeoutMessage(msg.content);
    if (!parsed.ok) return this.park({ channel, msg }, `invalid message: ${parsed.reason}`, 'invalid');
    await this.fire({ channel, msg, message: parsed.message, messageId });
  }

  private outcomes(): UnclosedOutcomes {
    return {
      closed: (d) => {
        logger.debug('order closed', { orderId: d.message.orderId, messageId: d.messageId });
        acknowledge(d);
      },
      skipped: (d, status) => {
        this.opts.observer?.skipped?.(status);
        logger.debug('timeout skipped', { orderId: d.message.orderId, messageId: d.messageId, status });
        acknowledge(d);
      },
      unknownOrder: (d) => this.inFlight.track(this.park(d, `unknown order ${d.message.orderId}`, 'unknown-order')),
      notYetDue: (d, expiresAt, at) => this.inFlight.track(this.sendOnOrWait(d, expiresAt, at)),
      dueAgain: (d) => this.inFlight.track(this.fire(d)),
      failed: (d, err) => this.retryLater(d, err),
    };
  }

  /** Early (level rounding, a deadline moved): hop to the next level, or wait out less than the smallest one. */
  private async sendOnOrWait(d: DueTimeout, expiresAt: Date, at: Date): Promise<void> {
    const remaining = expiresAt.getTime() - at.getTime();
    const level = planDelay(remaining, this.opts.levels);
    const message = { ...d.message, expiresAt: expiresAt.toISOString() };
    if (!level) {
      const waited = await this.waitInProcess(d, remaining);
      if (waited) await this.fire({ ...d, message });
      return;
    }
    try {
      await delayTimeout(this.opts.publisher, level, message, d.messageId);
      this.opts.observer?.rescheduled?.('early');
      acknowledge(d);
    } catch (err) {
      logger.warn('could not send an early timeout on; it will be redelivered', {
        orderId: d.message.orderId,
        messageId: d.messageId,
        ...errorFields(err),
      });
      rejectForRedelivery(d);
    }
  }

  /**
   * Waits out the last stretch (less than the smallest level) in process; true when the wait ran its course. On
   * stop the wait is cut short and the message handed back to the broker for another process.
   */
  private waitInProcess(d: DueTimeout, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const held = {
        timer: setTimeout(() => {
          this.held.delete(held);
          // Stopping began after stop() handed the held messages back: hand this one back too, or it would stay
          // unsettled until the channel closes.
          if (this.stopping) handBack(d);
          resolve(!this.stopping);
        }, ms),
        handBack: () => {
          clearTimeout(held.timer);
          this.held.delete(held);
          handBack(d);
          resolve(false);
        },
      };
      this.held.add(held);
    });
  }

  /** A failure that may pass (database down): back off through the delay levels, park after maxAttempts. */
  private async retryLater(d: DueTimeout, err: unknown): Promise<void> {
    const attempt = d.message.attempt + 1;
    const reason = `${isConnectionError(err) ? 'database unavailable' : 'closing failed'}: ${errorMessage(err)}`;
    if (attempt > this.opts.maxAttempts) {
      return this.park(d, `${reason} (gave up after ${this.opts.maxAttempts} attempts)`, 'attempts-exhausted');
    }
    const level = backoffLevel(attempt, this.opts.levels);
    const ids = { orderId: d.message.orderId, messageId: d.messageId };
    logger.warn('closing deferred', { ...ids, attempt, retryIn: level.name, ...errorFields(err) });
    try {
      await delayTimeout(this.opts.publisher, level, { ...d.message, attempt }, d.messageId);
      this.opts.observer?.rescheduled?.('retry');
      acknowledge(d);
    } catch (publishErr) {
      logger.warn('could not defer a timeout; it will be redelivered', { ...ids, ...errorFields(publishErr) });
      rejectForRedelivery(d);
    }
  }

  private async park(d: Received, reason: string, kind: string): Promise<void> {
    const messageId = d.msg.properties.messageId ? String(d.msg.properties.messageId) : undefined;
    try {
      await parkMessage(this.opts.publisher, d.msg, reason, this.opts.now());
    } catch (err) {
      logger.error('could not park a message; it will be redelivered', { messageId, reason, ...errorFields(err) });
      rejectForRedelivery(d);
      return;
    }
    this.opts.observer?.parked?.(kind);
    logger.warn('message parked', { messageId, reason });
    acknowledge(d);
  }
}
