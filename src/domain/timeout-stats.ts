import { parseDuration } from './duration';

/**
 * The nearest-rank percentile of ascending `sorted` values: the smallest value with at least `p` of the values
 * at or below it (p in [0, 1]). Always one of the values; null when there are none.
 */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile must be between 0 and 1 (got ${p})`);
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1]!;
}

/** Close lateness in ms: p50 and p99 of the sampled values, max over all of them, and how many were sampled. */
export interface LatenessSummary {
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** How many closed orders p50 and p99 are computed from (the most recent ones when there were more). */
  samples: number;
}

/**
 * Summarises lateness values (any order). `max` may be given separately when the values are a sample of a
 * larger set whose true maximum is known (it is never below the sample's own maximum).
 */
export function summarizeLateness(values: readonly number[], knownMax?: number | null): LatenessSummary {
  const sorted = [...values].sort((a, b) => a - b);
  const sampleMax = sorted.length > 0 ? sorted[sorted.length - 1]! : null;
  const max =
    knownMax === undefined || knownMax === null
      ? sampleMax
      : sampleMax === null
        ? knownMax
        : Math.max(knownMax, sampleMax);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max, samples: sorted.length };
}

/** closedByTimeout / created; 0 when nothing was created. */
export function timeoutRate(closedByTimeout: number, created: number): number {
  return created > 0 ? closedByTimeout / created : 0;
}

/** Order counts of one group (or of all), by what became of the orders. */
export interface OrderOutcomeCounts {
  created: number;
  /** Orders that were paid (now PAID, SHIPPED or COMPLETED). */
  paid: number;
  /** Orders CLOSED because their payment window ended (by the closer, the sweeper, a read or the CLI). */
  closedByTimeout: number;
  cancelled: number;
  /** Still PENDING_PAYMENT (including any past their deadline that nothing has closed yet). */
  pending: number;
}

/** What `GET /stats/timeouts` groups orders by: their category, their region or their customer's tier. */
export const STATS_DIMENSIONS = ['category', 'region', 'tier'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];

/** Order counts of one group (a category, a region, a tier). */
export interface GroupCounts extends OrderOutcomeCounts {
  group: string;
  /** Largest lateness in ms over every closed order of the group (not just the sample). */
  maxLatenessMs: number | null;
}

export interface GroupStats extends OrderOutcomeCounts {
  /** The category, region or tier. */
  group: string;
  timeoutRate: number;
  latenessMs: LatenessSummary;
}

/** A group of the category dimension as it was listed before groups existed: named `category`. */
export type CategoryStats = Omit<GroupStats, 'group'> & { category: string };

export interface TimeoutStats {
  /** Start of the period (orders created at or after it), ISO-8601 UTC. */
  since: string;
  /** When the figures were taken, ISO-8601 UTC. */
  until: string;
  by: StatsDimension;
  groups: GroupStats[];
  /** With `by` category only: the groups again under their older name, for clients written before `by`. */
  categories?: CategoryStats[];
  totals: OrderOutcomeCounts & { timeoutRate: number; latenessMs: LatenessSummary };
}

/**
 * Assembles the per-group report: rates, lateness summaries, groups sorted by timeout rate (highest first; then more
 * orders first; then by name), and totals. `samples` holds lateness values per group, `totalSample` a sample over
 * all of them.
 */
export function buildTimeoutStats(input: {
  since: Date;
  until: Date;
  by: StatsDimension;
  counts: readonly GroupCounts[];
  samples: ReadonlyMap<string, readonly number[]>;
  totalSample: readonly number[];
}): TimeoutStats {
  const groups: GroupStats[] = input.counts.map((c) => ({
    group: c.group,
    created: c.created,
    paid: c.paid,
    closedByTimeout: c.closedByTimeout,
    cancelled: c.cancelled,
    pending: c.pending,
    timeoutRate: timeoutRate(c.closedByTimeout, c.created),
    latenessMs: summarizeLateness(input.samples.get(c.group) ?? [], c.maxLatenessMs),
  }));
  groups.sort(
    (a, b) =>
      b.timeoutRate - a.timeoutRate || b.created - a.created || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
  );
  const sum = (key: keyof OrderOutcomeCounts) => input.counts.reduce((n, c) => n + c[key], 0);
  const maxes = input.counts.map((c) => c.maxLatenessMs).filter((m): m is number => m !== null);
  const totals = {
    created: sum('created'),
    paid: sum('paid'),
    closedByTimeout: sum('closedByTimeout'),
    cancelled: sum('cancelled'),
    pending: sum('pending'),
  };
  return {
    since: input.since.toISOString(),
    until: input.until.toISOString(),
    by: input.by,
    groups,
    ...(input.by === 'category' ? { categories: groups.map(({ group, ...g }) => ({ category: group, ...g })) } : {}),
    totals: {
      ...totals,
      timeoutRate: timeoutRate(totals.closedByTimeout, totals.created),
      latenessMs: summarizeLateness(input.totalSample, maxes.length > 0 ? Math.max(...maxes) : null),
    },
  };
}

/** `since` as a duration back from now: `24h`, `90m`, `7d`, `1500ms`. */
export const SINCE_DURATION = /^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/;
/**
 * `since` as an ISO-8601 date or date-time. `T` and `Z` are spelled in both cases rather than with the `i` flag, so
 * the pattern means the same where it is published as a JSON Schema `pattern` (which has no flags).
 */
export const SINCE_ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?)?$/;

/** The message for a `since` that has neither form. */
export const notASince = (text: string) =>
  `"${text.slice(0, 60)}" is neither an ISO-8601 date-time (2026-11-20T08:00:00Z) nor a duration back from now (24h, 90m, 7d)`;

/**
 * No order is older than 1970, and instants far before it are not valid dates (or DATETIMEs) at all: a `since`
 * further back (`9999999999d`, `0100-01-01`) means "everything", from 1970-01-01.
 */
const notBeforeEpoch = (ms: number) => new Date(Math.max(0, ms));

/**
 * The start of a stats period: an ISO-8601 date or date-time (without an offset: UTC), or a duration back from
 * `now` (`24h`, `90m`, `7d`). Throws an Error whose message says what is wrong.
 */
export function parseSince(text: string, now: Date): Date {
  const value = text.trim();
  if (SINCE_DURATION.test(value)) {
    return notBeforeEpoch(now.getTime() - parseDuration(value));
  }
  const m = SINCE_ISO.exec(value);
  if (m) {
    const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
    // Date.parse would roll 2026-02-30 over into March; a date or time that does not exist is a mistake.
    const fields = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec));
    const exists = new Date(fields).toISOString().slice(0, 19) === `${y}-${mo}-${d}T${h}:${mi}:${sec}`;
    const at = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac.slice(0, 4)}${zone.toUpperCase()}`);
    if (exists && !Number.isNaN(at)) return notBeforeEpoch(at);
  }
  throw new Error(notASince(text));
}
