import type { Knex } from 'knex';
import { purgeExpired, type RetentionRule } from '../db/retention-repo';
import { errorFields, logger } from '../log';
import { runPeriodically, type PeriodicJob } from './periodic';

/** Options for {@link startRetention}. */
export interface RetentionOptions {
  db: Knex;
  now: () => Date;
  /** What to purge: one entry per table. */
  rules: RetentionRule[];
  /** How often a round runs (ms). */
  intervalMs: number;
  /** Rows deleted per statement. */
  batchSize: number;
}

/**
 * Most batches per table in one round: a first deploy (or a long outage) leaves a large backlog, which then goes
 * over several rounds instead of one long one that a shutdown would have to wait for.
 */
const MAX_BATCHES_PER_ROUND = 20;

/**
 * One round: purges every rule's expired rows, batch by batch, up to {@link MAX_BATCHES_PER_ROUND} batches per
 * table, and stops between batches once `stopping()` says so; returns the count per table.
 */
export async function purgeAll(
  opts: Omit<RetentionOptions, 'intervalMs'>,
  stopping: () => boolean = () => false,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const rule of opts.rules) {
    let total = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_ROUND && !stopping(); batch++) {
      const deleted = await purgeExpired(opts.db, rule, opts.now(), opts.batchSize);
      total += deleted;
      if (deleted < opts.batchSize) break;
    }
    counts[rule.table] = total;
  }
  return counts;
}

/** Runs {@link purgeAll} every `intervalMs` (sent outbox rows, idempotency keys past their retention). */
export function startRetention(opts: RetentionOptions): PeriodicJob {
  let stopping = false;
  const job = runPeriodically(opts.intervalMs, async () => {
    try {
      const counts = await purgeAll(opts, () => stopping);
      if (Object.values(counts).some((n) => n > 0)) logger.info('purged expired rows', counts);
    } catch (err) {
      logger.warn('purging expired rows failed; the next round retries', errorFields(err));
    }
  });
  return {
    stop() {
      stopping = true;
      return job.stop();
    },
  };
}
