import type { Knex } from 'knex';
import type { DelayLevel } from '../domain/delay-plan';
import { parseTimeoutMessage } from '../domain/timeout-message';
import { claimOutbox, markOutboxSent, releaseOutbox, type OutboxMessage } from '../db/outbox-repo';
import { errorFields, errorMessage, logger } from '../log';
import type { Publisher } from './publisher';
import { scheduleTimeout } from './schedule-timeout';

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
}

/**
 * Publishes outbox rows and marks them sent once the broker confirms. New orders' rows are handed over at
 * once (`publishNow`); a timer picks up everything else: rows of a process that died, or written while the
 * broker was down.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private pending: OutboxMessage[] = [];
  private flushing?: Promise<void>;

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

  /** Publishes rows this process has just committed (and still holds the claim of). */
  publishNow(rows: OutboxMessage[]): void {
    this.pending.push(...rows);
    // Rows that arrive while a flush runs go out together in the next one: one UPDATE marks them all sent.
    this.flushing ??= (async () => {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.opts.batchSize);
        await this.publishRows(batch).catch((err) =>
          logger.warn('outbox publish failed; the relay will retry', { ...errorFields(err) }),
        );
      }
    })().finally(() => (this.flushing = undefined));
  }

  /** One round: claim lapsed rows and publish them, until none are left. */
  async relayOnce(): Promise<void> {
    const { opts } = this;
    if (!opts.publisher.isConnected()) return;
    for (;;) {
      const rows = await claimOutbox(opts.db, opts.processId, opts.now(), opts.claimForMs, opts.batchSize);
      if (rows.length === 0) break;
      logger.info('outbox relay publishing', { rows: rows.length });
      const allSent = await this.publishRows(rows);
      // Rows that failed were released, so the next claim would take them straight back: a broker that is down
      // or a route that is missing would turn this loop into a hot one. The next round (intervalMs) retries.
      if (!allSent || rows.length < opts.batchSize) break;
    }
  }

  /** Publishes rows and records the outcome; true when every row was sent. */
  private async publishRows(rows: OutboxMessage[]): Promise<boolean> {
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
    const results = await Promise.all(
      rows.map(async (row) => {
        const parsed = row.message
          ? ({ ok: true, message: row.message } as const)
          : parseTimeoutMessage(Buffer.from(row.payload));
        if (!parsed.ok) {
          // Retrying cannot help; the sweeper still closes the order on time.
          logger.error('outbox row unreadable; dropped from the outbox', {
            orderId: row.orderId,
            messageId: row.messageId,
            reason: parsed.reason,
          });
          return { row };
        }
        try {
          const destination = await scheduleTimeout(
            opts.publisher,
            opts.levels,
            parsed.message,
            row.messageId,
            opts.now(),
          );
          logger.debug('timeout scheduled', { orderId: row.orderId, messageId: row.messageId, destination });
          return { row };
        } catch (err) {
          return { row, error: errorMessage(err) };
        }
      }),
    );
    const sent = results.filter((r) => !r.error).map((r) => r.row.id);
    const failed = results.filter((r) => r.error);
    await markOutboxSent(opts.db, sent, opts.now());
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

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.round;
    await this.flushing;
  }
}
