import { countOrdersBy, sampleLateness, sampleLatenessBy } from '../db/stats-repo';
import { buildTimeoutStats, type StatsDimension, type TimeoutStats } from '../domain/timeout-stats';
import type { UseCaseDeps } from './use-case-deps';

/**
 * Most closed orders per category (and overall) whose lateness is fetched for p50/p99: the most recently created
 * ones. `max` is exact over every closed order whatever this is.
 */
export const LATENESS_SAMPLE_LIMIT = 10_000;

/**
 * Per group (of `by`: category, region or tier) of the orders created from `since` to `until` (default: now): what
 * became of them, timeout rate, close lateness.
 */
export async function readTimeoutStats(
  ctx: Pick<UseCaseDeps, 'db' | 'now'>,
  period: { since: Date; until?: Date; by?: StatsDimension; sampleLimit?: number },
): Promise<TimeoutStats> {
  const { since, until = ctx.now(), by = 'category', sampleLimit = LATENESS_SAMPLE_LIMIT } = period;
  const counts = await countOrdersBy(ctx.db, by, since, until);
  const anyClosed = counts.some((c) => c.closedByTimeout > 0);
  const [samples, totalSample] = anyClosed
    ? await Promise.all([
        sampleLatenessBy(ctx.db, by, since, until, sampleLimit),
        sampleLateness(ctx.db, since, until, sampleLimit),
      ])
    : [new Map<string, number[]>(), []];
  return buildTimeoutStats({ since, until, by, counts, samples, totalSample });
}
