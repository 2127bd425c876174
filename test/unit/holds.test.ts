import { amountCase } from '../../src/db/holds/hold-store';
import { amountsByKind, compareKeys, groupByKind, HOLD_KINDS, sumByResource } from '../../src/domain/holds';

describe('hold kinds', () => {
  it('when listing the kinds, then they are the four of the contract in lock order', () => {
    expect(HOLD_KINDS).toEqual(['stock', 'promotion', 'coupon', 'points']);
  });

  it('when holds of several orders name the same resource, then their amounts add up, keys in numeric order', () => {
    const sums = sumByResource([
      { resourceId: '10', amount: 2 },
      { resourceId: '9', amount: 1 },
      { resourceId: '10', amount: 3 },
      { resourceId: '100', amount: 1 },
    ]);
    expect([...sums]).toEqual([
      ['9', 1],
      ['10', 5],
      ['100', 1],
    ]);
  });

  it('when holds are grouped by kind or summed per kind, then nothing is lost or counted twice', () => {
    const holds = [
      { kind: 'stock' as const, resourceId: '1', amount: 2 },
      { kind: 'points' as const, resourceId: 'c', amount: 150 },
      { kind: 'stock' as const, resourceId: '2', amount: 1 },
      { kind: 'coupon' as const, resourceId: '7', amount: 1 },
    ];
    expect([...groupByKind(holds)].map(([k, g]) => [k, g.length])).toEqual([
      ['stock', 2],
      ['points', 1],
      ['coupon', 1],
    ]);
    expect(amountsByKind(holds)).toEqual({ stock: 3, points: 150, coupon: 1 });
  });

  it('when keys differ in length, then the shorter sorts first (numeric ids by value)', () => {
    expect(['20', '3', '100', 'b', 'a'].sort(compareKeys)).toEqual(['3', 'a', 'b', '20', '100']);
  });
});

describe('amountCase', () => {
  it('when amounts repeat, then there is one WHEN per distinct amount, its keys in an IN list', () => {
    const { sql, bindings } = amountCase(
      'id',
      new Map([
        ['1', 1],
        ['2', 3],
        ['5', 1],
      ]),
    );
    expect(sql).toBe('CASE WHEN id IN (?,?) THEN ? WHEN id IN (?) THEN ? END');
    expect(bindings).toEqual(['1', '5', 1, '2', 3]);
  });
});
