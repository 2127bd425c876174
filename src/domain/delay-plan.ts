import { parseDuration } from './duration';

export interface DelayLevel {
  /** Routing key and queue suffix, as configured, e.g. `15m` or `24h`. */
  name: string;
  ms: number;
}

/** Parses `1s,5s,30s` into levels sorted ascending; rejects empty lists and duplicates. */
export function parseDelayLevels(text: string): DelayLevel[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error('needs at least one level, e.g. "1s,5s,30s"');
  const levels = parts.map((p) => ({ name: p, ms: parseDuration(p) }));
  levels.sort((a, b) => a.ms - b.ms);
  for (let i = 1; i < levels.length; i++) {
    if (levels[i]!.ms === levels[i - 1]!.ms)
      throw new Error(`levels ${levels[i - 1]!.name} and ${levels[i]!.name} are the same delay`);
  }
  return levels;
}

/**
 * The next hop towards a deadline `remainingMs` away: the largest level not above it, so a message never
 * arrives early by more than rounding; when the deadline is nearer than every level, `null` (the caller
 * waits the rest itself: it is shorter than the smallest level).
 */
export function planDelay(remainingMs: number, levels: readonly DelayLevel[]): DelayLevel | null {
  let chosen: DelayLevel | null = null;
  for (const level of levels) {
    if (level.ms <= remainingMs) chosen = level;
    else break;
  }
  return chosen;
}

/** The level used to back off after the `attempt`-th failure: the levels in turn, then the largest. */
export function backoffLevel(attempt: number, levels: readonly DelayLevel[]): DelayLevel {
  return levels[Math.min(Math.max(attempt - 1, 0), levels.length - 1)]!;
}
