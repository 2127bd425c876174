import {
  buildTimeoutStats,
  parseSince,
  percentile,
  summarizeLateness,
  timeoutRate,
  type GroupCounts,
} from '../../src/domain/timeout-stats';

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('percentile (nearest rank)', () => {
  it('when there are no values, then every percentile is null', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([], 0.99)).toBeNull();
  });

  it('when there is one value, then every percentile is that value', () => {
    expect(percentile([7], 0)).toBe(7);
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([7], 1)).toBe(7);
  });

  it('when there are 100 values 1..100, then p50 is 50, p99 is 99 and p100 is 100', () => {
    const values = range(100);
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile(values, 1)).toBe(100);
  });

  it('when the rank falls between values, then it rounds up to a value that was observed (no interpolation)', () => {
    expect(percentile([10, 20, 30, 40], 0.5)).toBe(20);
    expect(percentile([10, 20, 30], 0.5)).toBe(20);
    expect(percentile([10, 20, 30, 40, 50], 0.99)).toBe(50);
    expect(percentile(range(1000), 0.99)).toBe(990);
  });

  it('when p is 0, then it is the smallest value', () => {
    expect(percentile([3, 4, 5], 0)).toBe(3);
  });

  it.each([-0.1, 1.5, Number.NaN])('when p is %p (outside 0..1), then it throws', (p) => {
    expect(() => percentile([1, 2], p)).toThrow(RangeError);
  });
});

describe('summarizeLateness', () => {
  it('when the values are unsorted, then it sorts them before taking percentiles', () => {
    expect(summarizeLateness([30, 10, 20, 40, 100])).toEqual({ p50: 30, p99: 100, max: 100, samples: 5 });
  });

  it('does not reorder the caller’s array', () => {
    const values = [3, 1, 2];
    summarizeLateness(values);
    expect(values).toEqual([3, 1, 2]);
  });

  it('when there are no values, then p50, p99 and max are null and samples 0', () => {
    expect(summarizeLateness([])).toEqual({ p50: null, p99: null, max: null, samples: 0 });
  });

  it('when the values are a sample and the true max is known, then max is the true max', () => {
    expect(summarizeLateness([1, 2, 3], 250)).toEqual({ p50: 2, p99: 3, max: 250, samples: 3 });
  });

  it('when the known max is below the sample max (rows closed meanwhile), then max is never below an observed value', () => {
    expect(summarizeLateness([1, 2, 300], 250).max).toBe(300);
  });

  it('when the known max is null, then the sample max is used', () => {
    expect(summarizeLateness([4, 5], null).max).toBe(5);
  });
});

describe('timeoutRate', () => {
  it('when orders were created, then it is closedByTimeout / created', () => {
    expect(timeoutRate(1, 4)).toBe(0.25);
  });

  it('when nothing was created, then it is 0 (not NaN)', () => {
    expect(timeoutRate(0, 0)).toBe(0);
  });
});

describe('buildTimeoutStats', () => {
  const counts = (
    category: string,
    created: number,
    closedByTimeout: number,
    maxLatenessMs: number | null = null,
  ): GroupCounts => ({
    group: category,
    created,
    paid: created - closedByTimeout,
    closedByTimeout,
    cancelled: 0,
    pending: 0,
    maxLatenessMs,
  });
  const since = new Date('2026-11-20T00:00:00.000Z');
  const until = new Date('2026-11-21T00:00:00.000Z');

  it('sorts categories by timeout rate, highest first, and breaks ties by more orders, then by name', () => {
    const stats = buildTimeoutStats({
      since,
      until,
      by: 'category',
      counts: [counts('a', 10, 1), counts('b', 4, 2), counts('c', 2, 1), counts('d', 10, 0), counts('bb', 4, 2)],
      samples: new Map(),
      totalSample: [],
    });
    expect(stats.categories!.map((c) => [c.category, c.timeoutRate])).toEqual([
      ['b', 0.5],
      ['bb', 0.5],
      ['c', 0.5],
      ['a', 0.1],
      ['d', 0],
    ]);
  });

  it('adds up the totals and computes their rate and lateness from the overall sample and the largest category max', () => {
    const stats = buildTimeoutStats({
      since,
      until,
      by: 'category',
      counts: [counts('a', 10, 2, 40), counts('b', 10, 3, 900)],
      samples: new Map([
        ['a', [10, 40]],
        ['b', [5, 6, 900]],
      ]),
      totalSample: [10, 40, 5, 6, 900],
    });
    expect(stats.since).toBe('2026-11-20T00:00:00.000Z');
    expect(stats.until).toBe('2026-11-21T00:00:00.000Z');
    expect(stats.totals).toEqual({
      created: 20,
      paid: 15,
      closedByTimeout: 5,
      cancelled: 0,
      pending: 0,
      timeoutRate: 0.25,
      latenessMs: { p50: 10, p99: 900, max: 900, samples: 5 },
    });
    expect(stats.categories!.find((c) => c.category === 'a')!.latenessMs).toEqual({
      p50: 10,
      p99: 40,
      max: 40,
      samples: 2,
    });
  });

  it('when a category has no closed orders, then its lateness is all null', () => {
    const stats = buildTimeoutStats({
      since,
      until,
      by: 'category',
      counts: [counts('a', 3, 0)],
      samples: new Map(),
      totalSample: [],
    });
    expect(stats.categories![0]!.latenessMs).toEqual({ p50: null, p99: null, max: null, samples: 0 });
    expect(stats.totals.latenessMs).toEqual({ p50: null, p99: null, max: null, samples: 0 });
  });

  it('when grouped by region, then the groups are listed under groups only, with the same figures', () => {
    const stats = buildTimeoutStats({
      since,
      until,
      by: 'region',
      counts: [counts('eu', 4, 1), counts('us', 2, 1)],
      samples: new Map(),
      totalSample: [],
    });
    expect(stats.by).toBe('region');
    expect(stats.categories).toBeUndefined();
    expect(stats.groups.map((g) => [g.group, g.created, g.timeoutRate])).toEqual([
      ['us', 2, 0.5],
      ['eu', 4, 0.25],
    ]);
  });

  it('when grouped by category, then the groups are also listed as categories, named category', () => {
    const stats = buildTimeoutStats({
      since,
      until,
      by: 'category',
      counts: [counts('a', 3, 1)],
      samples: new Map(),
      totalSample: [],
    });
    const { group, ...figures } = stats.groups[0]!;
    expect(stats.categories).toEqual([{ category: group, ...figures }]);
  });

  it('when there are no orders, then there are no categories and the totals are zero', () => {
    const stats = buildTimeoutStats({ since, until, by: 'category', counts: [], samples: new Map(), totalSample: [] });
    expect(stats.categories).toEqual([]);
    expect(stats.totals).toEqual(expect.objectContaining({ created: 0, closedByTimeout: 0, timeoutRate: 0 }));
  });
});

describe('parseSince', () => {
  const now = new Date('2026-11-21T12:00:00.000Z');

  it.each([
    ['24h', '2026-11-20T12:00:00.000Z'],
    ['90m', '2026-11-21T10:30:00.000Z'],
    ['7d', '2026-11-14T12:00:00.000Z'],
    ['1500ms', '2026-11-21T11:59:58.500Z'],
    [' 2h ', '2026-11-21T10:00:00.000Z'],
    ['9999999999d', '1970-01-01T00:00:00.000Z'],
    ['99999999999999999999999999999999d', '1970-01-01T00:00:00.000Z'],
  ])('when since is the duration %p, then it is that long before now', (text, expected) => {
    expect(parseSince(text, now).toISOString()).toBe(expected);
  });

  it.each([
    ['2026-11-20T08:00:00Z', '2026-11-20T08:00:00.000Z'],
    ['2026-11-20T08:00:00.123Z', '2026-11-20T08:00:00.123Z'],
    ['2026-11-20T08:00:00.123456Z', '2026-11-20T08:00:00.123Z'],
    ['2026-11-20T09:00:00+01:00', '2026-11-20T08:00:00.000Z'],
    ['2026-11-20T08:00', '2026-11-20T08:00:00.000Z'],
    ['2026-11-20T08:00:00', '2026-11-20T08:00:00.000Z'],
    ['2026-11-20', '2026-11-20T00:00:00.000Z'],
    ['0100-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z'],
  ])('when since is the ISO-8601 time %p, then it is that instant (no offset: UTC)', (text, expected) => {
    expect(parseSince(text, now).toISOString()).toBe(expected);
  });

  it.each([
    '',
    'yesterday',
    '24',
    'h',
    '-1h',
    '0s',
    '1.5ms',
    '24 h',
    '2026-02-30',
    '2026-13-01T00:00:00Z',
    '2026-11-20T25:00:00Z',
    '2026-11-20T08:61Z',
    '1700000000',
    '2026/11/20',
  ])('when since is %p, then it throws a message naming both accepted forms or the duration rule', (text) => {
    expect(() => parseSince(text, now)).toThrow(/ISO-8601|duration|positive/);
  });
});
