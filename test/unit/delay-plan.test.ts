import { backoffLevel, parseDelayLevels, planDelay } from '../../src/domain/delay-plan';

const levels = parseDelayLevels('1s,5s,30s,1m,5m,15m,30m,1h,2h,6h,24h');

describe('parseDelayLevels', () => {
  it('when given the default list, then it returns the levels ascending with canonical names', () => {
    expect(levels.map((l) => l.ms)).toEqual(
      [1, 5, 30, 60, 300, 900, 1_800, 3_600, 7_200, 21_600, 86_400].map((s) => s * 1_000),
    );
    expect(levels.map((l) => l.name)).toEqual(['1s', '5s', '30s', '1m', '5m', '15m', '30m', '1h', '2h', '6h', '24h']);
    for (const level of levels) expect(parseDelayLevels(level.name)[0]!.ms).toBe(level.ms);
  });

  it('when the levels are out of order or spaced, then they are sorted and trimmed', () => {
    expect(parseDelayLevels(' 30s , 1s,5s ').map((l) => l.ms)).toEqual([1_000, 5_000, 30_000]);
  });

  it('when a level is spelled in a longer form, then its name is the spelling as configured (queue order.delay.<name>)', () => {
    expect(parseDelayLevels('60s,1000ms')).toEqual([
      { name: '1000ms', ms: 1_000 },
      { name: '60s', ms: 60_000 },
    ]);
  });

  it('when a level is not a duration, then it throws naming it', () => {
    expect(() => parseDelayLevels('1s,5x')).toThrow('"5x"');
  });

  it('when the list is empty, then it throws', () => {
    expect(() => parseDelayLevels('')).toThrow(/at least one level/);
    expect(() => parseDelayLevels(' , ')).toThrow(/at least one level/);
  });

  it('when a level is listed twice (even spelled differently), then it throws', () => {
    expect(() => parseDelayLevels('1s,5s,1s')).toThrow(/1s/);
    expect(() => parseDelayLevels('60s,1m')).toThrow(/60s|1m/);
    expect(() => parseDelayLevels('60s,1m')).toThrow(/same|twice/);
  });
});

describe('planDelay', () => {
  it('when the deadline is exactly a level away, then that level is chosen', () => {
    expect(planDelay(900_000, levels)!.name).toBe('15m');
  });

  it('when the deadline is between levels, then the largest level not above it is chosen (never late)', () => {
    expect(planDelay(899_999, levels)!.name).toBe('5m');
    expect(planDelay(7_000, levels)!.name).toBe('5s');
  });

  it('when the deadline is beyond the largest level, then the largest level is chosen', () => {
    expect(planDelay(10 * 86_400_000, levels)!.ms).toBe(86_400_000);
  });

  it('when the deadline is nearer than the smallest level (or passed), then there is no hop', () => {
    expect(planDelay(999, levels)).toBeNull();
    expect(planDelay(0, levels)).toBeNull();
    expect(planDelay(-5_000, levels)).toBeNull();
  });
});

/**
 * The hops a timeout takes: planDelay at publish time, then again each time the closer receives it early (it
 * plans from the deadline), until less than the smallest level is left, which the closer waits in process.
 */
function hops(remainingMs: number): string[] {
  const taken: string[] = [];
  for (let left = remainingMs, level = planDelay(left, levels); level; level = planDelay(left, levels)) {
    taken.push(level.name);
    left -= level.ms;
  }
  return taken;
}
const covered = (names: string[]) => names.reduce((sum, name) => sum + levels.find((l) => l.name === name)!.ms, 0);

describe('planDelay, hop after hop', () => {
  it('when the window is 15m, then it is one 15m hop', () => {
    expect(hops(900_000)).toEqual(['15m']);
  });

  it('when the window is 16m36.5s, then the hops add up to it minus a rest below the smallest level', () => {
    const remaining = 900_000 + 60_000 + 30_000 + 5_000 + 1_000 + 500;
    expect(hops(remaining)).toEqual(['15m', '1m', '30s', '5s', '1s']);
    expect(remaining - covered(hops(remaining))).toBe(500);
  });

  it('when the window is shorter than every level, then there are no hops', () => {
    expect(hops(500)).toEqual([]);
  });

  it('when hops are planned for any window, then they never overshoot it and leave less than the smallest level', () => {
    for (const remaining of [1_000, 4_999, 61_000, 3_599_999, 90_000_000]) {
      expect(covered(hops(remaining))).toBeLessThanOrEqual(remaining);
      expect(remaining - covered(hops(remaining))).toBeLessThan(levels[0]!.ms);
    }
  });

  it('when the window is just under 24 h, then it takes 24 hops, the worst case with the default levels (README)', () => {
    expect(hops(86_400_000 - 1)).toHaveLength(24);
  });
});

describe('backoffLevel', () => {
  it('when failures pile up, then the back-off walks the levels and then stays at the largest', () => {
    expect(backoffLevel(1, levels).name).toBe('1s');
    expect(backoffLevel(2, levels).name).toBe('5s');
    expect(backoffLevel(11, levels).ms).toBe(86_400_000);
    expect(backoffLevel(50, levels).ms).toBe(86_400_000);
  });

  it('when the attempt is 0 or negative, then the smallest level is used', () => {
    expect(backoffLevel(0, levels).name).toBe('1s');
    expect(backoffLevel(-3, levels).name).toBe('1s');
  });
});
