import { closeDueOrders } from '../../src/db/order-transitions';
import { runAudit } from '../../src/jobs/audit';
import { expectProblem, makeProduct } from '../support/fixtures';
import { grantPoints, holdsOf, makeCoupon, makePromotion, newCustomer } from '../support/holds';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

type Kind = 'stock' | 'promotion' | 'coupon' | 'points';
type Ending = 'timeout' | 'cancel' | 'pay';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', flash: '1s' } });
});
afterAll(async () => svc?.destroy());

const STOCK = 10;
const QTY = 2;
const PRICE = 1000;
const SALE_PRICE = 600;
const COUPON_OFF = 200;
const POINTS = 500;
const REDEEM = 300;

/** Fixtures for one order holding `kinds` (stock always), and the order itself. */
async function orderHolding(kinds: Kind[], category = 'books') {
  const customerId = newCustomer();
  const product = await makeProduct(svc, { stock: STOCK, priceCents: PRICE, category });
  const promotion = kinds.includes('promotion')
    ? await makePromotion(svc, product.id, { priceCents: SALE_PRICE, quota: 5, perCustomerLimit: 3 })
    : undefined;
  const coupon = kinds.includes('coupon')
    ? await makeCoupon(svc, customerId, { discountCents: COUPON_OFF, minTotalCents: 1000 })
    : undefined;
  if (kinds.includes('points')) await grantPoints(svc, customerId, POINTS);
  const ids = { productId: product.id, promotionId: promotion?.id, couponId: coupon?.id, customerId };
  const before = await holdsOf(svc, ids);
  const res = await svc.api('POST', '/orders', {
    customerId,
    items: [{ productId: product.id, quantity: QTY }],
    ...(coupon ? { couponId: coupon.id } : {}),
    ...(kinds.includes('points') ? { pointsToRedeem: REDEEM } : {}),
  });
  expect(res.status).toBe(201);
  return { ids, before, order: res.body };
}

/** What the holds should be, from before the order: `held` while pending, `kept` once paid. */
function expected(kinds: Kind[], before: Awaited<ReturnType<typeof holdsOf>>, state: 'held' | 'kept') {
  const points = kinds.includes('points') ? REDEEM : 0;
  return {
    stock: before.stock - QTY,
    ...(kinds.includes('promotion') ? { promotionSold: QTY, customerUnits: QTY } : {}),
    ...(kinds.includes('coupon') ? { coupon: state === 'held' ? 'HELD' : 'USED' } : {}),
    points: { balance: before.points.balance - points, held: state === 'held' ? points : 0 },
  };
}

async function end(order: { id: string; totalCents: number }, ending: Ending): Promise<void> {
  if (ending === 'timeout') {
    await eventually(
      async () => (await svc.db('orders').where({ id: order.id }).first('status')).status === 'CLOSED',
      15_000,
      `order ${order.id} closed by its timeout`,
    );
    return;
  }
  const res =
    ending === 'pay'
      ? await svc.api('POST', `/orders/${order.id}/pay`, {
          paymentRef: `pay-${order.id}`,
          amountCents: order.totalCents,
        })
      : await svc.api('POST', `/orders/${order.id}/cancel`);
  expect(res.status).toBe(200);
}

const KIND_SETS: Kind[][] = [['stock'], ['stock', 'promotion'], ['stock', 'coupon'], ['stock', 'points']];
const ALL: Kind[] = ['stock', 'promotion', 'coupon', 'points'];
const cases = [...KIND_SETS, ALL].flatMap((kinds) =>
  (['timeout', 'cancel', 'pay'] as Ending[]).map((ending) => [kinds.join('+'), ending, kinds] as const),
);

describe('every kind an order holds', () => {
  it.each(cases)(
    'when an order holding %s ends by %s, then it was taken at create and is back (timeout, cancel) or kept (pay)',
    async (_name, ending, kinds) => {
      const { ids, before, order } = await orderHolding([...kinds], ending === 'timeout' ? 'flash' : 'books');
      expect(await holdsOf(svc, ids)).toEqual(expected([...kinds], before, 'held'));

      await end(order, ending);

      expect(await holdsOf(svc, ids)).toEqual(ending === 'pay' ? expected([...kinds], before, 'kept') : before);
      const report = await runAudit(svc.db, new Date(), 60_000);
      expect(report.kinds.filter((k) => k.mismatches.length > 0)).toEqual([]);
    },
  );

  it('when an order holds all four, then its JSON shows the promotion price, the coupon, the points and the total', async () => {
    const { ids, order } = await orderHolding(ALL);
    expect(order).toMatchObject({
      items: [{ productId: ids.productId, quantity: QTY, unitPriceCents: SALE_PRICE }],
      couponId: ids.couponId,
      pointsRedeemed: REDEEM,
      discountCents: COUPON_OFF + REDEEM,
      totalCents: QTY * SALE_PRICE - COUPON_OFF - REDEEM,
    });
    const coupon = await svc.api('GET', `/coupons/${ids.couponId}`);
    expect(coupon.body).toMatchObject({ status: 'HELD', orderId: order.id });
    expect((await svc.api('GET', `/promotions/${ids.promotionId}`)).body.sold).toBe(QTY);
    expect((await svc.api('GET', `/customers/${ids.customerId}/points`)).body).toEqual({
      customerId: ids.customerId,
      balance: POINTS - REDEEM,
      held: REDEEM,
    });
  });

  it('when a closed order is read or cancelled again, then nothing is given back a second time', async () => {
    const { ids, before, order } = await orderHolding(ALL, 'flash');
    await end(order, 'timeout');
    expectProblem(await svc.api('POST', `/orders/${order.id}/cancel`), 409, 'illegal-transition');
    await svc.api('GET', `/orders/${order.id}`);
    expect(await holdsOf(svc, ids)).toEqual(before);
  });
});

describe('a create that is refused holds nothing', () => {
  /** Creates an order expected to fail with `status`/`type`; checks every hold is as before. */
  async function refused(
    ids: Parameters<typeof holdsOf>[1],
    body: Record<string, unknown>,
    status: number,
    type: string,
  ): Promise<Record<string, unknown>> {
    const before = await holdsOf(svc, ids);
    const res = await svc.api('POST', '/orders', { customerId: ids.customerId, ...body });
    expectProblem(res, status, type);
    expect(await holdsOf(svc, ids)).toEqual(before);
    return res.body;
  }

  async function fixtures(opts: { quota?: number; limit?: number; points?: number } = {}) {
    const customerId = newCustomer();
    const product = await makeProduct(svc, { stock: STOCK, priceCents: PRICE });
    const promotion = await makePromotion(svc, product.id, {
      priceCents: SALE_PRICE,
      quota: opts.quota ?? 5,
      perCustomerLimit: opts.limit ?? 5,
    });
    const coupon = await makeCoupon(svc, customerId, { discountCents: COUPON_OFF, minTotalCents: 1000 });
    if (opts.points) await grantPoints(svc, customerId, opts.points);
    const items = (quantity = QTY) => [{ productId: product.id, quantity }];
    return { ids: { productId: product.id, promotionId: promotion.id, couponId: coupon.id, customerId }, items };
  }

  it('when the coupon does not exist, then 404 and nothing is held', async () => {
    const { ids, items } = await fixtures();
    await refused(ids, { items: items(), couponId: '987654321' }, 404, 'not-found');
  });

  it("when the coupon is another customer's, held, used, expired or its minimum not met, then 409 coupon-unavailable naming why", async () => {
    const { ids, items } = await fixtures({ points: 1000 });
    const other = await refused(
      { ...ids, customerId: newCustomer() },
      { items: items(), couponId: ids.couponId },
      409,
      'coupon-unavailable',
    );
    expect(other.detail).toMatch(/another customer/);
    expect(
      (await refused(ids, { items: items(1), couponId: ids.couponId, pointsToRedeem: 10 }, 409, 'coupon-unavailable'))
        .detail,
    ).toMatch(/needs items of at least 1000/);

    const holder = await svc.api('POST', '/orders', {
      customerId: ids.customerId,
      items: items(),
      couponId: ids.couponId,
    });
    expect(holder.status).toBe(201);
    expect((await refused(ids, { items: items(), couponId: ids.couponId }, 409, 'coupon-unavailable')).detail).toMatch(
      new RegExp(`held by pending order ${holder.body.id}`),
    );
    const paid = await svc.api('POST', `/orders/${holder.body.id}/pay`, {
      paymentRef: 'p',
      amountCents: holder.body.totalCents,
    });
    expect(paid.status).toBe(200);
    expect((await refused(ids, { items: items(), couponId: ids.couponId }, 409, 'coupon-unavailable')).detail).toMatch(
      /was used by/,
    );

    const expired = await makeCoupon(svc, ids.customerId);
    await svc
      .db('coupons')
      .where({ id: expired.id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect(
      (
        await refused(
          { ...ids, couponId: expired.id },
          { items: items(), couponId: expired.id },
          409,
          'coupon-unavailable',
        )
      ).detail,
    ).toMatch(/expired/);
  });

  it('when the promotion has fewer units left than asked, then 409 promotion-sold-out with what is left', async () => {
    const { ids, items } = await fixtures({ quota: 3 });
    expect((await svc.api('POST', '/orders', { customerId: newCustomer(), items: items(2) })).status).toBe(201);
    const body = await refused(ids, { items: items(2) }, 409, 'promotion-sold-out');
    expect(body).toMatchObject({ promotionId: ids.promotionId, requested: 2, available: 1 });
  });

  it('when the customer would pass the per-customer limit, then 409 promotion-limit; another customer still buys', async () => {
    const { ids, items } = await fixtures({ limit: 3 });
    expect((await svc.api('POST', '/orders', { customerId: ids.customerId, items: items(2) })).status).toBe(201);
    const body = await refused(ids, { items: items(2) }, 409, 'promotion-limit');
    expect(body).toMatchObject({ promotionId: ids.promotionId, limit: 3, alreadyHeld: 2, requested: 2 });
    expect((await svc.api('POST', '/orders', { customerId: newCustomer(), items: items(2) })).status).toBe(201);
  });

  it('when the points are short, then 409 points-insufficient and the coupon and stock stay as they were', async () => {
    const { ids, items } = await fixtures({ points: 100 });
    const body = await refused(
      ids,
      { items: items(), couponId: ids.couponId, pointsToRedeem: 101 },
      409,
      'points-insufficient',
    );
    expect(body).toMatchObject({ balance: 100, requested: 101 });
  });
});

describe('prices and totals', () => {
  it('when the discounts exceed the items, then the total is 0 and only the points needed are taken', async () => {
    const customerId = newCustomer();
    const product = await makeProduct(svc, { priceCents: 300 });
    const coupon = await makeCoupon(svc, customerId, { discountCents: 250 });
    await grantPoints(svc, customerId, 1000);
    const res = await svc.api('POST', '/orders', {
      customerId,
      items: [{ productId: product.id, quantity: 1 }],
      couponId: coupon.id,
      pointsToRedeem: 1000,
    });
    expect(res.body).toMatchObject({ totalCents: 0, discountCents: 300, pointsRedeemed: 50 });
    expect((await svc.api('GET', `/customers/${customerId}/points`)).body).toMatchObject({ balance: 950, held: 50 });
  });

  it('when a promotion has not started or has ended, then the item sells at the product price and takes no quota', async () => {
    const product = await makeProduct(svc, { priceCents: 900 });
    const soon = await makePromotion(svc, product.id, {
      startsAt: new Date(Date.now() + 3_600_000).toISOString(),
      endsAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    const res = await svc.api('POST', '/orders', {
      customerId: newCustomer(),
      items: [{ productId: product.id, quantity: 1 }],
    });
    expect(res.body.items[0].unitPriceCents).toBe(900);
    expect((await svc.api('GET', `/promotions/${soon.id}`)).body.sold).toBe(0);
  });

  it('when two promotions are active on one product, then the cheaper one applies', async () => {
    const product = await makeProduct(svc, { priceCents: 900 });
    await makePromotion(svc, product.id, { priceCents: 700 });
    const cheaper = await makePromotion(svc, product.id, { priceCents: 650 });
    const res = await svc.api('POST', '/orders', {
      customerId: newCustomer(),
      items: [{ productId: product.id, quantity: 1 }],
    });
    expect(res.body.items[0].unitPriceCents).toBe(650);
    expect((await svc.api('GET', `/promotions/${cheaper.id}`)).body.sold).toBe(1);
  });
});

describe('batched closes', () => {
  it('when 60 orders of 6 customers sharing a promotion close in one transaction, then everything comes back once and the audit passes', async () => {
    const product = await makeProduct(svc, { stock: 1000, priceCents: PRICE });
    const promotion = await makePromotion(svc, product.id, { quota: 500, perCustomerLimit: 100 });
    const customers = Array.from({ length: 6 }, () => newCustomer('batch'));
    for (const c of customers) await grantPoints(svc, c, 10_000);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const customerId = customers[i % 6]!;
      const coupon = i % 2 === 0 ? await makeCoupon(svc, customerId, { discountCents: 10 }) : undefined;
      const res = await svc.api('POST', '/orders', {
        customerId,
        items: [{ productId: product.id, quantity: 1 + (i % 3) }],
        ...(coupon ? { couponId: coupon.id } : {}),
        pointsToRedeem: 7,
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    await svc
      .db('orders')
      .whereIn('id', ids)
      .update({ expires_at: new Date(Date.now() - 1000) });
    const closed = await closeDueOrders(svc.db, { orderIds: ids, source: 'cli', now: new Date() });
    expect(closed).toHaveLength(60);
    const returned = closed.reduce<Record<string, number>>((sum, c) => {
      for (const [k, v] of Object.entries(c.returned)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {});
    expect(returned).toEqual({ stock: 120, promotion: 120, coupon: 30, points: 420 });
    expect((await svc.db('products').where({ id: product.id }).first('stock')).stock).toBe(1000);
    expect((await svc.db('promotions').where({ id: promotion.id }).first('sold')).sold).toBe(0);
    expect(await svc.db('coupons').whereIn('customer_id', customers).whereNot({ status: 'AVAILABLE' })).toEqual([]);
    const points = await svc.db('points_accounts').whereIn('customer_id', customers).select('balance', 'held');
    expect(points).toEqual(customers.map(() => ({ balance: 10_000, held: 0 })));
    expect((await closeDueOrders(svc.db, { orderIds: ids, source: 'cli', now: new Date() })).length).toBe(0);
    expect((await runAudit(svc.db, new Date(), 60_000)).kinds.filter((k) => k.mismatches.length > 0)).toEqual([]);
  });

  it('when the database does not say the order holds its coupon, then the close fails whole: nothing is given back and the order stays pending', async () => {
    const { ids, order } = await orderHolding(ALL);
    await svc.db('coupons').where({ id: ids.couponId }).update({ status: 'AVAILABLE', order_id: null });
    const tampered = await holdsOf(svc, ids);
    await svc
      .db('orders')
      .where({ id: order.id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    await expect(closeDueOrders(svc.db, { orderIds: [order.id], source: 'cli', now: new Date() })).rejects.toThrow(
      /coupon holds do not match/,
    );
    expect(await holdsOf(svc, ids)).toEqual(tampered);
    expect((await svc.db('orders').where({ id: order.id }).first('status')).status).toBe('PENDING_PAYMENT');
    const audit = await runAudit(svc.db, new Date(), 60_000);
    expect(audit.kinds.find((k) => k.kind === 'coupon')!.mismatches).toEqual([
      { couponId: ids.couponId, status: 'AVAILABLE', orderId: null, pendingHolders: 1, paidHolders: 0 },
    ]);
    // Put it right, so the closer can close it and later tests see a clean audit.
    await svc.db('coupons').where({ id: ids.couponId }).update({ status: 'HELD', order_id: order.id });
    expect(await closeDueOrders(svc.db, { orderIds: [order.id], source: 'cli', now: new Date() })).toHaveLength(1);
  });
});
