import type { CreateReads } from '../../src/db/create-reads';
import type { ActivePromotion } from '../../src/db/promotions-repo';
import { AppError } from '../../src/errors';
import { planOrder, type OrderRequest } from '../../src/orders/plan-order';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const TIMEOUTS = { default: 900_000, flash: 60_000 };

const product = (id: string, fields: Partial<{ priceCents: number; stock: number; category: string }> = {}) => ({
  id,
  sku: `sku-${id}`,
  name: 'p',
  category: 'books',
  priceCents: 1000,
  stock: 10,
  ...fields,
});

const promotion = (fields: Partial<ActivePromotion> = {}): ActivePromotion => ({
  id: '7',
  productId: '1',
  priceCents: 600,
  quota: 10,
  perCustomerLimit: 5,
  startsAt: new Date('2026-11-22T00:00:00Z'),
  endsAt: new Date('2026-11-23T00:00:00Z'),
  sold: 0,
  customerUnits: 0,
  ...fields,
});

const coupon = (fields: Partial<NonNullable<CreateReads['coupon']>> = {}) => ({
  id: '3',
  customerId: 'c',
  discountCents: 200,
  minTotalCents: 0,
  expiresAt: new Date('2026-12-01T00:00:00Z'),
  status: 'AVAILABLE' as const,
  orderId: null,
  ...fields,
});

function reads(fields: Partial<CreateReads> = {}): CreateReads {
  return { products: new Map([['1', product('1')]]), promotions: [], pointsBalance: 0, ...fields };
}

const request = (fields: Partial<OrderRequest> = {}): OrderRequest => ({
  customerId: 'c',
  items: [{ productId: '1', quantity: 2 }],
  ...fields,
});

/** The refusal planOrder throws, as status and problem type. */
function refusal(fn: () => unknown): { status: number; type: string; extra: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return { status: err.status, type: err.type, extra: err.extra };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('planOrder', () => {
  it('when nothing but items is asked, then the order takes stock only at the product price', () => {
    const plan = planOrder(request(), reads(), TIMEOUTS, NOW);
    expect(plan).toMatchObject({
      itemsCents: 2000,
      discountCents: 0,
      totalCents: 2000,
      couponId: null,
      pointsRedeemed: 0,
    });
    expect(plan.claims).toEqual([{ kind: 'stock', resourceId: '1', amount: 2 }]);
  });

  it('when a promotion, a coupon and points apply, then the total is items at promotion price - coupon - points, and all four are claimed', () => {
    const plan = planOrder(
      request({ couponId: '3', pointsToRedeem: 300 }),
      reads({ promotions: [promotion()], coupon: coupon(), pointsBalance: 500 }),
      TIMEOUTS,
      NOW,
    );
    expect(plan).toMatchObject({
      itemsCents: 1200,
      discountCents: 500,
      totalCents: 700,
      couponId: '3',
      pointsRedeemed: 300,
    });
    expect(plan.items).toEqual([{ productId: '1', quantity: 2, unitPriceCents: 600 }]);
    expect(plan.claims).toEqual([
      { kind: 'stock', resourceId: '1', amount: 2 },
      { kind: 'promotion', resourceId: '7', amount: 2 },
      { kind: 'coupon', resourceId: '3', amount: 1 },
      { kind: 'points', resourceId: 'c', amount: 300 },
    ]);
  });

  it('when the coupon and points exceed the items, then the total is 0 and only the points still needed are redeemed', () => {
    const plan = planOrder(
      request({ couponId: '3', pointsToRedeem: 5000 }),
      reads({ coupon: coupon({ discountCents: 1500 }), pointsBalance: 5000 }),
      TIMEOUTS,
      NOW,
    );
    expect(plan).toMatchObject({ totalCents: 0, discountCents: 2000, pointsRedeemed: 500 });
  });

  it('when the coupon alone covers the items, then no points are redeemed or claimed, even with none in the account', () => {
    const plan = planOrder(
      request({ couponId: '3', pointsToRedeem: 100 }),
      reads({ coupon: coupon({ discountCents: 5000 }) }),
      TIMEOUTS,
      NOW,
    );
    expect(plan.pointsRedeemed).toBe(0);
    expect(plan.claims.map((c) => c.kind)).toEqual(['stock', 'coupon']);
  });

  it('when several promotions are active on a product, then the cheapest (then the oldest) applies', () => {
    const plan = planOrder(
      request(),
      reads({
        promotions: [
          promotion({ id: '9', priceCents: 500 }),
          promotion({ id: '8', priceCents: 500 }),
          promotion({ id: '2', priceCents: 700 }),
        ],
      }),
      TIMEOUTS,
      NOW,
    );
    expect(plan.claims[1]).toEqual({ kind: 'promotion', resourceId: '8', amount: 2 });
  });

  it.each<[string, Partial<OrderRequest>, Partial<CreateReads>, number, string]>([
    ['the product is unknown', { items: [{ productId: '2', quantity: 1 }] }, {}, 404, 'not-found'],
    ['the coupon is unknown', { couponId: '3' }, {}, 404, 'not-found'],
    ['the stock is short', { items: [{ productId: '1', quantity: 11 }] }, {}, 409, 'insufficient-stock'],
    ['the promotion has 1 unit left', {}, { promotions: [promotion({ sold: 9 })] }, 409, 'promotion-sold-out'],
    ['the customer has 4 of 5 units', {}, { promotions: [promotion({ customerUnits: 4 })] }, 409, 'promotion-limit'],
    [
      'the coupon is held',
      { couponId: '3' },
      { coupon: coupon({ status: 'HELD', orderId: '5' }) },
      409,
      'coupon-unavailable',
    ],
    [
      'the coupon is used',
      { couponId: '3' },
      { coupon: coupon({ status: 'USED', orderId: '5' }) },
      409,
      'coupon-unavailable',
    ],
    ["the coupon is another's", { couponId: '3' }, { coupon: coupon({ customerId: 'd' }) }, 409, 'coupon-unavailable'],
    ['the coupon expires now', { couponId: '3' }, { coupon: coupon({ expiresAt: NOW }) }, 409, 'coupon-unavailable'],
    [
      'the minimum is not met',
      { couponId: '3' },
      { coupon: coupon({ minTotalCents: 2001 }) },
      409,
      'coupon-unavailable',
    ],
    ['the points are short', { pointsToRedeem: 100 }, { pointsBalance: 99 }, 409, 'points-insufficient'],
  ])('when %s, then it is refused (%s)', (_name, req, read, status, type) => {
    expect(refusal(() => planOrder(request(req), reads(read), TIMEOUTS, NOW))).toMatchObject({ status, type });
  });

  it("when the coupon's minimum is met only at the regular price, then the promotion price decides: refused", () => {
    const r = refusal(() =>
      planOrder(
        request({ couponId: '3' }),
        reads({ promotions: [promotion()], coupon: coupon({ minTotalCents: 1500 }) }),
        TIMEOUTS,
        NOW,
      ),
    );
    expect(r.type).toBe('coupon-unavailable');
  });

  it('when products of several categories are ordered, then the window is the shortest and names its category', () => {
    const plan = planOrder(
      request({
        items: [
          { productId: '1', quantity: 1 },
          { productId: '2', quantity: 1 },
        ],
      }),
      reads({
        products: new Map([
          ['1', product('1')],
          ['2', product('2', { category: 'flash' })],
        ]),
      }),
      TIMEOUTS,
      NOW,
    );
    expect({ windowMs: plan.windowMs, category: plan.category }).toEqual({ windowMs: 60_000, category: 'flash' });
  });
});
