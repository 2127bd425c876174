import { parseDuration } from '../../src/domain/duration';

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
