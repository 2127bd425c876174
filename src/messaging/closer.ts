import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Knex } from 'knex';
import { backoffLevel, planDelay, type DelayLevel } from '../domain/delay-plan';
import { transitionFor } from '../domain/order-lifecycle';
import { parseTimeoutMessage, type TimeoutMessage } from '../domain/timeout-message';
import { closeDueOrders, type ClosedOrder } from '../db/orders-repo';
import { isConnectionError, retryOnConflict } from '../db/retry';
import { errorFields, errorMessage, logger } from '../log';
import { declareOrRecord, reconnectOnChannelLoss, type BrokerHealth } from './broker';
import { parkMessage } from './park';
import type { Publisher } from './publisher';
import { delayTimeout } from './schedule-timeout';
import { assertTopology, TIMEOUT_QUEUE, type Topology } from './topology';

/** What the closer reports, for metrics. All optional. */
export interface CloserObserver {
  closed?(orders: ClosedOrder[]): void;
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
  /** Failed attempts (database down, unexpected errors) before a message is parked. */
  maxAttempts: number;
  now: () => Date;
  /** Shared record of unfixable broker problems (topology clashes). */
  health: BrokerHealth;
  observer?: CloserObserver;
}

interface Delivery {
  channel: Channel;
  msg: ConsumeMessage;
  message: TimeoutMessage;
  messageId: string;
  done: () => void;
}

const PENDING = transitionFor('timeout').from;
/** Orders of a failed batch closed at once, each in its own transaction, to find the one that fails. */
const ISOLATION_WORKERS = 4;

/**
 * Consumes `order.timeout`. Each message is acknowledged only once its outcome is durable: the order closed
 * (committed), found not pending (no-op), sent on to a later level, or parked with a reason.
 * Due orders are closed in batches: whatever arrived while the previous transaction ran goes in the next.
 */
export class Closer {
  private channel?: ChannelWrapper;
  private readonly queue: Delivery[] = [];
  private activeBatches = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly consumers = new Map<Channel, string>();
  private readonly held = new Set<{ timer: NodeJS.Timeout; handBack: () => void }>();
  private stopping = false;

  constructor(private readonly opts: CloserOptions) {}

  start(): void {
    this.channel = this.opts.connection.createChannel({
      name: 'closer',
      setup: (channel: Channel) => this.subscribe(channel),
    });
    this.channel.on('error', (err) => logger.warn('closer channel setup failed', { ...errorFields(err) }));
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
        if (msg) this.track(this.handle(channel, msg));
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
        logger.error('closer resubscribe failed', { ...errorFields(err) });
      });
    }, 1000).unref();
  }

  private track(work: Promise<void>): void {
    const guarded = work.catch((err) => {
      logger.error('closer failed on a message', { ...errorFields(err) });
    });
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
  }

  private async handle(channel: Channel, msg: ConsumeMessage): Promise<void> {
    const messageId = msg.properties.messageId ? String(msg.properties.messageId) : '';
    const parsed = parseTimeoutMessage(msg.content);
    if (!parsed.ok) return this.park(channel, msg, `invalid message: ${parsed.reason}`, 'invalid');
    await this.requeueInProcess({ channel, msg, message: parsed.message, messageId });
  }

  /**
   * Starts batches while fewer than `concurrency` run. A lone message gets a transaction of its own at once;
   * under a backlog, whatever arrived while the running batches worked fills the next ones.
   */
  private pump(): void {
    while (this.activeBatches < this.opts.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      this.activeBatches++;
      void this.processBatch(batch).finally(() => {
        batch.forEach((d) => d.done());
        this.activeBatches--;
        this.pump();
      });
    }
  }

  /**
   * Closes whatever in the batch is due and still pending, in one transaction, then sorts out the rest by what
   * the database says of each order (in the usual case, everything closed, that second read is not needed).
   */
  private async processBatch(batch: Delivery[]): Promise<void> {
    const { db, now } = this.opts;
    const at = now();
    const ids = [...new Set(batch.map((d) => d.message.orderId))];
    const started = process.hrtime.bigint();
    let closed: ClosedOrder[];
    try {
      closed = await retryOnConflict(() => closeDueOrders(db, { orderIds: ids, source: 'timeout', now: at }));
    } catch (err) {
      if (ids.length > 1 && !isConnectionError(err)) {
        // One order that cannot be closed (a failing trigger, bad data) must not drag its batch-mates through the
        // back-off into the parked queue: close each order on its own, so only the failing one backs off.
        logger.warn('closing batch failed; closing its orders one at a time', {
          size: ids.length,
          ...errorFields(err),
        });
        const single = ids.map((id) => batch.filter((d) => d.message.orderId === id));
        let next = 0;
        const worker = async () => {
          while (next < single.length) await this.processBatch(single[next++]!);
        };
        await Promise.all(Array.from({ length: Math.min(ISOLATION_WORKERS, single.length) }, worker));
        return;
      }
      await Promise.all(batch.map((d) => this.retryLater(d, err)));
      return;
    }
    if (closed.length > 0) {
      this.opts.observer?.batch?.(closed.length, Number(process.hrtime.bigint() - started) / 1e9);
      this.opts.observer?.closed?.(closed);
      logger.info('orders closed', {
        count: closed.length,
        source: 'timeout',
        orderIds: closed.length <= 20 ? closed.map((c) => c.id) : undefined,
      });
    }
    const closedIds = new Set(closed.map((c) => c.id));
    const rest: Delivery[] = [];
    for (const d of batch) {
      if (closedIds.has(d.message.orderId)) {
        logger.debug('order closed', { orderId: d.message.orderId, messageId: d.messageId });
        ack(d);
      } else rest.push(d);
    }
    if (rest.length > 0) await this.sortOut(rest, at);
  }

  /** Deliveries whose order was not closed: unknown (park), moved on (no-op), or not yet due (send on / wait). */
  private async sortOut(rest: Delivery[], at: Date): Promise<void> {
    let orders: Map<string, { status: string; expires_at: Date }>;
    try {
      const rows = (await this.opts
        .db('orders')
        .select('id', 'status', 'expires_at')
        .whereIn('id', [...new Set(rest.map((d) => d.message.orderId))])) as {
        id: number | string;
        status: string;
        expires_at: Date;
      }[];
      orders = new Map(rows.map((r) => [String(r.id), r]));
    } catch (err) {
      await Promise.all(rest.map((d) => this.retryLater(d, err)));
      return;
    }
    for (const d of rest) {
      const order = orders.get(d.message.orderId);
      if (!order) {
        this.track(this.park(d.channel, d.msg, `unknown order ${d.message.orderId}`, 'unknown-order'));
      } else if (order.status !== PENDING) {
        this.opts.observer?.skipped?.(order.status);
        logger.debug('timeout skipped', { orderId: d.message.orderId, messageId: d.messageId, status: order.status });
        ack(d);
      } else if (order.expires_at.getTime() > at.getTime()) {
        this.track(this.notYetDue(d, order.expires_at, at));
      } else {
        // Became due or pending again between the close and this read (a deadline moved back): once more.
        this.track(this.requeueInProcess(d));
      }
    }
  }

  /** Early (level rounding, a deadline moved): hop to the next level, or wait out less than the smallest one. */
  private async notYetDue(d: Delivery, expiresAt: Date, at: Date): Promise<void> {
    const remaining = expiresAt.getTime() - at.getTime();
    const level = planDelay(remaining, this.opts.levels);
    const message = { ...d.message, expiresAt: expiresAt.toISOString() };
    if (!level) {
      await this.waitOrHandBack(d, remaining);
      if (!this.stopping) await this.requeueInProcess({ ...d, message });
      return;
    }
    try {
      await delayTimeout(this.opts.publisher, level, message, d.messageId);
      this.opts.observer?.rescheduled?.('early');
      ack(d);
    } catch (err) {
      logger.warn('could not send an early timeout on; it will be redelivered', {
        orderId: d.message.orderId,
        messageId: d.messageId,
        ...errorFields(err),
      });
      nack(d);
    }
  }

  private requeueInProcess(d: Omit<Delivery, 'done'>): Promise<void> {
    return new Promise<void>((done) => {
      this.queue.push({ ...d, done });
      this.pump();
    });
  }

  /**
   * Waits out the last stretch (less than the smallest level) in process. On stop the wait is cut short and
   * the message handed back to the broker for another process: a nack, which RabbitMQ 4.3+ does not count
   * towards the delivery limit, since the message did nothing wrong.
   */
  private waitOrHandBack(d: Delivery, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const held = {
        timer: setTimeout(() => {
          this.held.delete(held);
          resolve();
        }, ms),
        handBack: () => {
          clearTimeout(held.timer);
          this.held.delete(held);
          try {
            d.channel.nack(d.msg, false, true);
          } catch {
            /* channel gone: redelivered later */
          }
          resolve();
        },
      };
      this.held.add(held);
    });
  }

  /** A failure that may pass (database down): back off through the delay levels, park after maxAttempts. */
  private async retryLater(d: Delivery, err: unknown): Promise<void> {
    const attempt = d.message.attempt + 1;
    const reason = `${isConnectionError(err) ? 'database unavailable' : 'closing failed'}: ${errorMessage(err)}`;
    if (attempt > this.opts.maxAttempts) {
      return this.park(
        d.channel,
        d.msg,
        `${reason} (gave up after ${this.opts.maxAttempts} attempts)`,
        'attempts-exhausted',
      );
    }
    const level = backoffLevel(attempt, this.opts.levels);
    logger.warn('closing deferred', {
      orderId: d.message.orderId,
      messageId: d.messageId,
      attempt,
      retryIn: level.name,
      ...errorFields(err),
    });
    try {
      await delayTimeout(this.opts.publisher, level, { ...d.message, attempt }, d.messageId);
      this.opts.observer?.rescheduled?.('retry');
      ack(d);
    } catch (publishErr) {
      logger.warn('could not defer a timeout; it will be redelivered', {
        orderId: d.message.orderId,
        messageId: d.messageId,
        ...errorFields(publishErr),
      });
      nack(d);
    }
  }

  private async park(channel: Channel, msg: ConsumeMessage, reason: string, kind: string): Promise<void> {
    const messageId = msg.properties.messageId ? String(msg.properties.messageId) : undefined;
    try {
      await parkMessage(this.opts.publisher, msg, reason, this.opts.now());
    } catch (err) {
      logger.error('could not park a message; it will be redelivered', { messageId, reason, ...errorFields(err) });
      nack({ channel, msg });
      return;
    }
    this.opts.observer?.parked?.(kind);
    logger.warn('message parked', { messageId, reason });
    ack({ channel, msg });
  }

  /** Stops consuming, finishes and acknowledges the messages in hand, closes the channel. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.consumers].map(([channel, tag]) => channel.cancel(tag).catch(() => undefined)));
    for (const h of [...this.held]) h.handBack();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.channel?.close();
  }
}

// A message's channel may have closed since delivery; the broker then redelivers it, which closing tolerates.
function ack(d: { channel: Channel; msg: ConsumeMessage }): void {
  try {
    d.channel.ack(d.msg);
  } catch {
    /* channel gone: redelivered later */
  }
}

// reject, not nack: from RabbitMQ 4.3 only a reject counts towards the delivery limit that parks poison messages.
function nack(d: { channel: Channel; msg: ConsumeMessage }): void {
  try {
    d.channel.reject(d.msg, true);
  } catch {
    /* channel gone: redelivered later */
  }
}
