import type { DelayLevel } from './delay-plan';

/** What to do after a failed delivery attempt: wait a level and try again, or park it. */
export type RetryDecision = { retry: true; level: DelayLevel } | { retry: false };

/**
 * After the `attempt`-th failed attempt (1 = the first), `elapsedMs` after the first: the next wait is the
 * `attempt`-th level shorter than `maxAgeMs` (the largest of those once they run out), so back-off grows and
 * then repeats its longest step. No attempt is planned later than `maxAgeMs` after the first: the delivery is
 * parked instead. With no level shorter than `maxAgeMs` there is no retry at all.
 */
export function planWebhookRetry(
  attempt: number,
  elapsedMs: number,
  levels: readonly DelayLevel[],
  maxAgeMs: number,
): RetryDecision {
  const usable = levels.filter((l) => l.ms < maxAgeMs);
  if (usable.length === 0) return { retry: false };
  const level = usable[Math.min(Math.max(attempt - 1, 0), usable.length - 1)]!;
  return elapsedMs + level.ms <= maxAgeMs ? { retry: true, level } : { retry: false };
}

/** The whole schedule of a delivery that always fails: when each attempt starts, in ms after the first. */
export function webhookSchedule(levels: readonly DelayLevel[], maxAgeMs: number): number[] {
  const starts = [0];
  for (;;) {
    const decision = planWebhookRetry(starts.length, starts[starts.length - 1]!, levels, maxAgeMs);
    if (!decision.retry) return starts;
    starts.push(starts[starts.length - 1]! + decision.level.ms);
  }
}

/** Attempt numbers as a metric label: a few buckets, so the label stays low-cardinality. */
export const ATTEMPT_BUCKETS = ['0', '1', '2', '3-5', '6-10', '11+'] as const;

/** The bucket of an attempt number; 0 is a delivery parked without an attempt (an unreadable event). */
export function attemptBucket(attempt: number): (typeof ATTEMPT_BUCKETS)[number] {
  if (attempt <= 2) return attempt <= 0 ? '0' : attempt === 1 ? '1' : '2';
  if (attempt <= 5) return '3-5';
  return attempt <= 10 ? '6-10' : '11+';
}
