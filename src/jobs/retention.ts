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

/** One round: purges every rule's expired rows, batch by batch; returns the count per table. */
export async function purgeAll(opts: Omit<RetentionOptions, 'intervalMs'>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const rule of opts.rules) {
    let total = 0;
    for (;;) {
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
  return runPeriodically(opts.intervalMs, async () => {
    try {
      const counts = await purgeAll(opts);
      if (Object.values(counts).some((n) => n > 0)) logger.info('purged expired rows', counts);
    } catch (err) {
      logger.warn('purging expired rows failed; the next round retries', errorFields(err));
    }
  });
}
