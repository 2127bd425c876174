import { formatDuration, parseDuration } from '../../src/domain/duration';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['1s', 1_000],
    ['3.5s', 3_500],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    [' 30s ', 30_000],
  ])('when given %p, then it returns %p milliseconds', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5x', '5', 'm', '-5s', '0s', '0ms', '1.5ms', '5 s', '1e3ms', 'abc', '15M', '1s5', 'NaNs'])(
    'when given %p, then it throws naming the bad text',
    (text) => {
      expect(() => parseDuration(text)).toThrow(/duration|milliseconds/);
      expect(() => parseDuration(text)).toThrow(JSON.stringify(text));
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [900_000, '15m'],
    [3_500, '3500ms'],
    [1_000, '1s'],
    [86_400_000, '1d'],
    [7_200_000, '2h'],
    [90_000, '90s'],
    [1, '1ms'],
  ])('when given %p ms, then it spells it %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['1s', '15m', '250ms', '2h', '1d', '90s', '3.5s'])(
    'when %p is formatted and parsed back, then the milliseconds are the same',
    (text) => {
      const ms = parseDuration(text);
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );
});
