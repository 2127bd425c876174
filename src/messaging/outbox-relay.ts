import type { Knex } from 'knex';
import type { DelayLevel } from '../domain/delay-plan';
import { parseTimeoutMessage, TIMEOUT_MESSAGE_KIND } from '../domain/timeout-message';
import { EVENT_KINDS } from '../domain/order-event-types';
import {
  claimOutbox,
  eventsWaitingForEarlier,
  markOutboxSent,
  releaseOutbox,
  renewOutboxClaims,
  type OutboxMessage,
} from '../db/outbox-repo';
import { errorFields, errorMessage, logger } from '../log';
import { publishEvent } from './publish-event';
import type { Publisher } from './publisher';
import { scheduleTimeout } from './schedule-timeout';

/** A row that retrying cannot send (its payload cannot be read): dropped from the outbox, logged. */
class UnreadableRow extends Error {}

/** Sends one outbox row of a kind; resolves with where it went, once the broker confirmed it. */
type KindPublisher = (row: OutboxMessage, opts: OutboxRelayOptions) => Promise<string>;

const publishTimeoutRow: KindPublisher = (row, opts) => {
  const parsed = row.message
    ? ({ ok: true, message: row.message } as const)
    : parseTimeoutMessage(Buffer.from(row.payload));
  // Retrying cannot help; the sweeper still closes the order on time.
  if (!parsed.ok) throw new UnreadableRow(parsed.reason);
  return scheduleTimeout(opts.publisher, opts.levels, parsed.message, row.messageId, opts.now());
};

/** How each kind of outbox row is published: the timeout, and every order event type. */
const KIND_PUBLISHERS: ReadonlyMap<string, KindPublisher> = new Map([
  [TIMEOUT_MESSAGE_KIND, publishTimeoutRow],
  ...EVENT_KINDS.map((kind): [string, KindPublisher] => [kind, (row, opts) => publishEvent(opts.publisher, row)]),
]);

/** Why a row handed over after commit waits for the relay: an earlier event of its order is not sent yet. */
const WAITING_FOR_EARLIER = 'waiting for an earlier event of its order';

/** Options for {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  db: Knex;
  publisher: Publisher;
  levels: readonly DelayLevel[];
  /** Names this process in claims. */
  processId: string;
  /** How long a claim lasts (ms). */
  claimForMs: number;
  /** How often unclaimed rows are looked for (ms). */
  intervalMs: number;
  /** Rows per round. */
  batchSize: number;
  now: () => Date;
  /** Called for each order event the broker confirmed, with its kind (`order.<type>`). */
  onEventPublished?: (kind: string) => void;
  /**
   * Resolves when order events this process committed may go out; undefined when they may at once. The closer's
   * backlog drain holds them back, so that its closes (which give the holds back) finish first. Timeouts never wait.
   */
  eventsMayGo?: () => Promise<void> | undefined;
}

/**
 * Longest an event committed here waits for {@link OutboxRelayOptions.eventsMayGo}, as a share of its claim; a row
 * held that long has its claim renewed before it is published, so no other relay takes it meanwhile.
 */
const MOST_HELD_SHARE_OF_CLAIM = 0.5;

/** Rows handed over after commit and not yet published: one lane for timeouts, one for order events. */
interface Lane {
  /** Rows waiting for the lane's next batch, in commit order. */
  pending: OutboxMessage[];
  /** The loop publishing the lane's batches, while one runs. */
  flushing?: Promise<void>;
  /** Before each batch goes out: waits while the lane is held, and answers the rows still this process's to send. */
  beforeBatch?: (batch: OutboxMessage[]) => Promise<OutboxMessage[]>;
}

/** When the oldest of these rows was written (its transaction's clock), in ms. */
const oldestCreatedAt = (rows: readonly OutboxMessage[]) => Math.min(...rows.map((r) => r.createdAt.getTime()));

/**
 * Publishes outbox rows and marks them sent once the broker confirms. New orders' rows are handed over at
 * once (`publishNow`); a timer picks up everything else: rows of a process that died, or written while the
 * broker was down.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private readonly timeouts: Lane = { pending: [] };
  private readonly events: Lane = { pending: [], beforeBatch: (batch) => this.holdEvents(batch) };

  constructor(private readonly opts: OutboxRelayOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.round ??= this.relayOnce()
        .catch((err) => {
          logger.warn('outbox relay round failed', { ...errorFields(err) });
        })
        .finally(() => (this.round = undefined));
    }, this.opts.intervalMs);
  }

  /**
   * Publishes rows this process has just committed (and still holds the claim of). Timeouts and order events go in
   * lanes of their own, so that events held back by a backlog drain never delay the timeouts of new orders.
   */
  publishNow(rows: OutboxMessage[]): void {
    const events = rows.filter((r) => r.sequence !== null);
    const timeouts = rows.filter((r) => r.sequence === null);
    if (timeouts.length > 0) this.flush(this.timeouts, timeouts);
    if (events.length > 0) this.flush(this.events, events);
  }

  /** Adds rows to a lane and publishes the lane's rows in batches. */
  private flush(lane: Lane, rows: OutboxMessage[]): void {
    lane.pending.push(...rows);
    // Rows that arrive while a flush runs go out together in the next one: one UPDATE marks them all sent.
    lane.flushing ??= (async () => {
      while (lane.pending.length > 0) {
        const taken = lane.pending.splice(0, this.opts.batchSize);
        try {
          await this.publishRows((await lane.beforeBatch?.(taken)) ?? taken, true);
        } catch (err) {
          logger.warn('outbox publish failed; the relay will retry', { ...errorFields(err) });
        }
      }
    })().finally(() => (lane.flushing = undefined));
  }

  /**
   * Waits while order events are held back (a backlog drain), until the oldest of `batch` has been held for half
   * its claim at most; then renews the claims of rows held that long and answers the rows this process still holds.
   */
  private async holdEvents(batch: OutboxMessage[]): Promise<OutboxMessage[]> {
    const { opts } = this;
    const mostHeldMs = opts.claimForMs * MOST_HELD_SHARE_OF_CLAIM;
    const held = opts.eventsMayGo?.();
    const left = mostHeldMs - (opts.now().getTime() - oldestCreatedAt(batch));
    // Renew when the batch has been held (or waited) half its claim: decided by which came first, not by reading the
    // clock again, since a timer may fire a millisecond before the clock says its time is up.
    let heldToTheCap = left <= 0;
    if (held && !heldToTheCap) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), left)));
      const drainEnded = held.then(
        () => false,
        () => false,
      );
      heldToTheCap = await Promise.race([drainEnded, limit]).finally(() => clearTimeout(timer));
    }
    if (!heldToTheCap) return batch;
    const now = opts.now();
    const ours = await renewOutboxClaims(
      opts.db,
      batch.map((r) => r.id),
      opts.processId,
      now,
      opts.claimForMs,
    );
    return batch.filter((r) => ours.has(r.id));
  }

  /** One round: claim lapsed rows and publish them, until none are left. */
  async relayOnce(): Promise<void> {
    const { opts } = this;
    if (!opts.publisher.isConnected()) return;
    for (;;) {
      const rows = await claimOutbox(opts.db, opts.processId, opts.now(), opts.claimForMs, opts.batchSize);
      if (rows.length === 0) break;
      logger.info('outbox relay publishing', { rows: rows.length });
      // Claimed events are the first unsent of their order already (claimOutbox checks): no second check.
      const allSent = await this.publishRows(rows, false);
      // Rows that failed were released, so the next claim would take them straight back: a broker that is down
      // or a route that is missing would turn this loop into a hot one. The next round (intervalMs) retries.
      // A claim takes one event per order; once sent, the order's next may be claimed: go on while events went out.
      if (!allSent || (rows.length < opts.batchSize && !rows.some((r) => r.sequence !== null))) break;
    }
  }

  /**
   * Publishes rows and records the outcome; true when every row was sent. With `keepOrder`, an event whose order
   * has an earlier event still unsent is not published but released, for the relay to send once that one went.
   */
  private async publishRows(rows: OutboxMessage[], keepOrder: boolean): Promise<boolean> {
    const { opts } = this;
    if (!opts.publisher.isConnected()) {
      // Give the claim up now so the relay sends them as soon as the broker is back.
      await releaseOutbox(
        opts.db,
        rows.map((r) => r.id),
        'broker not connected',
      );
      return false;
    }
    const waiting = keepOrder ? await eventsWaitingForEarlier(opts.db, rows) : new Set<string>();
    await releaseOutbox(opts.db, [...waiting], WAITING_FOR_EARLIER);
    const results = await Promise.all(rows.filter((row) => !waiting.has(row.id)).map((row) => this.publishRow(row)));
    const sent = results.filter((r) => !r.error).map((r) => r.row);
    const failed = results.filter((r) => r.error);
    await markOutboxSent(
      opts.db,
      sent.map((r) => r.id),
      opts.now(),
    );
    for (const row of sent) if (row.sequence !== null) opts.onEventPublished?.(row.kind);
    if (failed.length > 0) {
      logger.warn('outbox rows not published; the relay will retry', {
        count: failed.length,
        err: failed[0]!.error,
        messageId: failed[0]!.row.messageId,
        orderId: failed[0]!.row.orderId,
      });
      await releaseOutbox(
        opts.db,
        failed.map((r) => r.row.id),
        failed[0]!.error!,
      );
    }
    return failed.length === 0;
  }

  /** Publishes one row by its kind; an unreadable row counts as done (it is logged and dropped). */
  private async publishRow(row: OutboxMessage): Promise<{ row: OutboxMessage; error?: string }> {
    const publish = KIND_PUBLISHERS.get(row.kind);
    try {
      if (!publish) throw new UnreadableRow(`unknown outbox kind ${row.kind}`);
      const destination = await publish(row, this.opts);
      logger.debug('outbox row published', { orderId: row.orderId, messageId: row.messageId, destination });
      return { row };
    } catch (err) {
      if (!(err instanceof UnreadableRow)) return { row, error: errorMessage(err) };
      logger.error('outbox row unreadable; dropped from the outbox', {
        orderId: row.orderId,
        messageId: row.messageId,
        reason: err.message,
      });
      return { row };
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.round;
    await Promise.all([this.timeouts.flushing, this.events.flushing]);
  }
}
