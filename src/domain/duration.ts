const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `15m`, `3.5s`, `250ms`, `2h`, `1d` into milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = PATTERN.exec(text.trim());
  if (!match) {
    throw new Error(`"${text}" is not a duration (a number and a unit: ms, s, m, h, d)`);
  }
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(ms)) {
    throw new Error(`"${text}" must be a positive whole number of milliseconds`);
  }
  return ms;
}
