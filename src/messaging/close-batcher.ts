import type { Knex } from 'knex';
import type { TimeoutMessage } from '../domain/timeout-message';
import { deadlineAllows } from '../domain/order-lifecycle';
import { timerTransition, type TimerKind } from '../domain/timer-kinds';
import type { EventWriting } from '../db/order-event-outbox';
import { fireDueTimers, type FiredOrder } from '../db/order-transitions';
import { findOrderStates } from '../db/orders-repo';
import { isConnectionError, retryOnConflict } from '../db/retry';
import { errorFields, logger } from '../log';
import type { Received } from './delivery';

/** A timer message waiting for its transaction. */
export interface DueTimeout extends Received {
  message: TimeoutMessage;
  messageId: string;
}

/** What becomes of a timeout that its batch did not close; the consumer settles each with the broker. */
export interface UnclosedOutcomes {
  /** The timer fired in this batch (the order closed, completed): acknowledge. */
  closed(d: DueTimeout): void;
  /**
   * The order is no longer in the timer's state (paid, cancelled, closed before), the timer already fired, or the
   * deadline is on the wrong side of it (a reminder after the deadline): acknowledge, nothing to do.
   */
  skipped(d: DueTimeout, status: string): void;
  /** No such order: park the message. */
  unknownOrder(d: DueTimeout): void;
  /** The order is in the timer's state but the timer is due later than the message said: send it on or wait. */
  notYetDue(d: DueTimeout, expiresAt: Date, at: Date): void;
  /** The order became due or pending again between the transaction and the read (a deadline moved back): once more. */
  dueAgain(d: DueTimeout): void;
  /** The database failed: back off and try again later. */
  failed(d: DueTimeout, err: unknown): Promise<void>;
}

/** Options for {@link CloseBatcher}. */
export interface CloseBatcherOptions {
  db: Knex;
  /** The timer kind whose transition this batcher applies. */
  kind: TimerKind;
  now: () => Date;
  /** Most orders closed in one transaction. */
  batchSize: number;
  /** Closing transactions run at once (orders and products are locked in id order, so they cannot deadlock). */
  concurrency: number;
  outcomes: UnclosedOutcomes;
  /** Writes the events of what it fires, one multi-row insert per batch; omitted when events are off. */
  events?: EventWriting;
  /** Called after each transaction that closed orders, with how many and how long it took. */
  onClosed?: (fired: FiredOrder[], seconds: number) => void;
  /**
   * Called when a whole batch comes to wait for a free transaction (the timers arrive faster than batches close);
   * answers whether a drain started. Once one did, not again until fewer than a batch wait.
   */
  onBacklog?: () => boolean;
  /**
   * Resolves once no backlog drain of this kind runs. A batch waits for it before its transaction: the drain
   * fires these orders anyway, and batches locking the same rows meanwhile would only slow it down.
   */
  drainIdle?: () => Promise<void>;
}

/** Orders of a failed batch closed at once, each in its own transaction, to find the one that fails. */
const ISOLATION_WORKERS = 4;

/**
 * Groups due timeouts into closing transactions: a lone message gets a transaction of its own at once; under a
 * backlog, whatever arrived while the running transactions worked fills the next ones (up to `batchSize`, at
 * most `concurrency` at a time).
 */
export class CloseBatcher {
  private readonly waiting: { due: DueTimeout; settled: () => void }[] = [];
  private running = 0;
  private backlogSignalled = false;

  constructor(private readonly opts: CloseBatcherOptions) {}

  /** Queues a due timeout for the next closing transaction; resolves once its outcome has been handed over. */
  close(due: DueTimeout): Promise<void> {
    return new Promise<void>((settled) => {
      this.waiting.push({ due, settled });
      this.startBatches();
      if (this.waiting.length < this.opts.batchSize || this.backlogSignalled) return;
      this.backlogSignalled = this.opts.onBacklog?.() ?? false;
    });
  }

  private startBatches(): void {
    while (this.running < this.opts.concurrency && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.opts.batchSize);
      if (this.waiting.length < this.opts.batchSize) this.backlogSignalled = false;
      this.running++;
      void this.closeBatch(batch.map((w) => w.due)).finally(() => {
        batch.forEach((w) => w.settled());
        this.running--;
        this.startBatches();
      });
    }
  }

  /**
   * Closes whatever in the batch is due and still pending, in one transaction; then reads what did not close
   * (in the usual case, everything closed, that read is not needed) and hands each on by what the database says.
   */
  private async closeBatch(batch: DueTimeout[]): Promise<void> {
    const { db, now, outcomes } = this.opts;
    await this.opts.drainIdle?.().catch(() => undefined);
    const at = now();
    const ids = [...new Set(batch.map((d) => d.message.orderId))];
    const started = process.hrtime.bigint();
    const { kind } = this.opts;
    let closed: FiredOrder[];
    try {
      closed = await retryOnConflict(() =>
        fireDueTimers(db, kind, { orderIds: ids, source: kind.source, now: at, events: this.opts.events }),
      );
    } catch (err) {
      if (ids.length > 1 && !isConnectionError(err)) return this.closeOneByOne(batch, ids, err);
      await Promise.all(batch.map((d) => outcomes.failed(d, err)));
      return;
    }
    if (closed.length > 0) this.opts.onClosed?.(closed, Number(process.hrtime.bigint() - started) / 1e9);
    const closedIds = new Set(closed.map((c) => c.id));
    const unclosed = batch.filter((d) => !closedIds.has(d.message.orderId));
    batch.filter((d) => closedIds.has(d.message.orderId)).forEach((d) => outcomes.closed(d));
    if (unclosed.length > 0) await this.handOnUnclosed(unclosed, at);
  }

  /**
   * One order that cannot be closed (a failing trigger, bad data) must not drag its batch-mates through the
   * back-off into the parked queue: close each order on its own, so only the failing one backs off.
   */
  private async closeOneByOne(batch: DueTimeout[], ids: string[], err: unknown): Promise<void> {
    logger.warn('closing batch failed; closing its orders one at a time', { size: ids.length, ...errorFields(err) });
    const single = ids.map((id) => batch.filter((d) => d.message.orderId === id));
    let next = 0;
    const worker = async () => {
      while (next < single.length) await this.closeBatch(single[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(ISOLATION_WORKERS, single.length) }, worker));
  }

  /** Timeouts whose order was not closed: unknown (park), moved on (skip), not yet due (send on / wait). */
  private async handOnUnclosed(unclosed: DueTimeout[], at: Date): Promise<void> {
    const { outcomes, kind } = this.opts;
    const transition = timerTransition(kind);
    let orders: Awaited<ReturnType<typeof findOrderStates>>;
    try {
      const ids = [...new Set(unclosed.map((d) => d.message.orderId))];
      orders = await findOrderStates(this.opts.db, ids, kind.dueColumn);
    } catch (err) {
      await Promise.all(unclosed.map((d) => outcomes.failed(d, err)));
      return;
    }
    for (const d of unclosed) {
      const order = orders.get(d.message.orderId);
      if (!order) outcomes.unknownOrder(d);
      // No due time: the timer never started for this order (shipped before auto-complete existed) or it fired and
      // cleared its due column (a reminder).
      else if (order.status !== transition.from || !order.dueAt) outcomes.skipped(d, order.status);
      else if (order.dueAt.getTime() > at.getTime()) outcomes.notYetDue(d, order.dueAt, at);
      // Due, but the deadline forbids it now: a reminder whose deadline passed is worse than none.
      else if (!deadlineAllows(transition, order.expiresAt, at)) outcomes.skipped(d, order.status);
      else outcomes.dueAgain(d);
    }
  }
}
