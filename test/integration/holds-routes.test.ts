import { expectProblem, ISO_MS, makeProduct } from '../support/fixtures';
import { grantPoints, makeCoupon, makePromotion, newCustomer } from '../support/holds';
import { startTestService, type TestService } from '../support/service';
import { pay } from '../support/payments';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => svc?.destroy());

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

describe('coupons', () => {
  it('when a coupon is issued, then it answers 201 AVAILABLE with its location, and GET and the customer list show it', async () => {
    const customerId = newCustomer();
    const expiresAt = '2099-01-02T03:04:05.678Z';
    const res = await svc.api('POST', '/coupons', { customerId, discountCents: 300, minTotalCents: 1000, expiresAt });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[1-9]\d*$/),
      customerId,
      discountCents: 300,
      minTotalCents: 1000,
      expiresAt,
      status: 'AVAILABLE',
      orderId: null,
    });
    expect(res.headers.get('location')).toBe(`/coupons/${res.body.id}`);
    expect((await svc.api('GET', `/coupons/${res.body.id}`)).body).toEqual(res.body);
    const second = await makeCoupon(svc, customerId);
    await makeCoupon(svc, newCustomer());
    const list = await svc.api('GET', `/customers/${customerId}/coupons`);
    expect(list.body.map((c: { id: string }) => c.id)).toEqual([res.body.id, second.id]);
  });

  it('when expiresAt has an offset, then it is stored and shown in UTC with milliseconds', async () => {
    const res = await svc.api('POST', '/coupons', {
      customerId: 'c',
      discountCents: 1,
      minTotalCents: 0,
      expiresAt: '2099-06-01T12:00:00+02:00',
    });
    expect(res.body.expiresAt).toBe('2099-06-01T10:00:00.000Z');
    expect(res.body.expiresAt).toMatch(ISO_MS);
  });

  it.each<[string, Record<string, unknown>]>([
    ['customerId is missing', { discountCents: 1, minTotalCents: 0, expiresAt: '2099-01-01T00:00:00Z' }],
    ['discountCents is 0', { customerId: 'c', discountCents: 0, minTotalCents: 0, expiresAt: '2099-01-01T00:00:00Z' }],
    [
      'minTotalCents is negative',
      { customerId: 'c', discountCents: 1, minTotalCents: -1, expiresAt: '2099-01-01T00:00:00Z' },
    ],
    [
      'expiresAt has no offset',
      { customerId: 'c', discountCents: 1, minTotalCents: 0, expiresAt: '2099-01-01T00:00:00' },
    ],
    ['expiresAt is not a date', { customerId: 'c', discountCents: 1, minTotalCents: 0, expiresAt: 'tomorrow' }],
    ['expiresAt is past', { customerId: 'c', discountCents: 1, minTotalCents: 0, expiresAt: '2020-01-01T00:00:00Z' }],
    [
      'discountCents is a string',
      { customerId: 'c', discountCents: '1', minTotalCents: 0, expiresAt: '2099-01-01T00:00:00Z' },
    ],
  ])('when %s, then it answers 400 naming the field', async (_name, body) => {
    const res = await svc.api('POST', '/coupons', body);
    expectProblem(res, 400, 'bad-request');
    expect(res.body.errors).toEqual([
      expect.objectContaining({ path: expect.any(String), message: expect.any(String) }),
    ]);
  });

  it('when the coupon or the customer cannot exist, then 404; a customer without coupons has an empty list', async () => {
    expectProblem(await svc.api('GET', '/coupons/987654321'), 404, 'not-found');
    expectProblem(await svc.api('GET', '/coupons/abc'), 404, 'not-found');
    expectProblem(await svc.api('GET', `/customers/${'x'.repeat(65)}/coupons`), 404, 'not-found');
    expect((await svc.api('GET', `/customers/${newCustomer()}/coupons`)).body).toEqual([]);
  });
});

describe('promotions', () => {
  it('when a promotion is created, then it answers 201 with sold 0, and sold counts units of pending and paid orders', async () => {
    const product = await makeProduct(svc, { priceCents: 1000 });
    const body = {
      productId: product.id,
      priceCents: 700,
      quota: 10,
      perCustomerLimit: 4,
      startsAt: '2020-01-01T00:00:00.000Z',
      endsAt: '2099-01-01T00:00:00.000Z',
    };
    const res = await svc.api('POST', '/promotions', body);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.stringMatching(/^[1-9]\d*$/), ...body, sold: 0 });
    expect(res.headers.get('location')).toBe(`/promotions/${res.body.id}`);

    const order = (q: number) =>
      svc.api('POST', '/orders', { customerId: newCustomer(), items: [{ productId: product.id, quantity: q }] });
    const paid = (await order(3)).body;
    await order(2);
    const cancelled = (await order(1)).body;
    await pay(svc, paid.id, `p-${paid.id}`);
    await svc.api('POST', `/orders/${cancelled.id}/cancel`);
    expect((await svc.api('GET', `/promotions/${res.body.id}`)).body.sold).toBe(5);
  });

  it('when the product does not exist, then 404; when endsAt is not after startsAt, or past, then 400', async () => {
    const product = await makeProduct(svc);
    const base = { productId: product.id, priceCents: 1, quota: 1, perCustomerLimit: 1 };
    expectProblem(
      await svc.api('POST', '/promotions', {
        ...base,
        productId: '987654321',
        startsAt: inAnHour(),
        endsAt: '2099-01-01T00:00:00Z',
      }),
      404,
      'not-found',
    );
    const backwards = await svc.api('POST', '/promotions', {
      ...base,
      startsAt: '2099-01-02T00:00:00Z',
      endsAt: '2099-01-01T00:00:00Z',
    });
    expectProblem(backwards, 400, 'bad-request');
    expect(backwards.body.errors).toEqual([{ path: 'endsAt', message: 'must be after startsAt' }]);
    expectProblem(
      await svc.api('POST', '/promotions', {
        ...base,
        startsAt: '2020-01-01T00:00:00Z',
        endsAt: '2021-01-01T00:00:00Z',
      }),
      400,
      'bad-request',
    );
    expectProblem(
      await svc.api('POST', '/promotions', { ...base, quota: 0, startsAt: inAnHour(), endsAt: '2099-01-01T00:00:00Z' }),
      400,
    );
    expectProblem(await svc.api('GET', '/promotions/987654321'), 404, 'not-found');
  });
});

describe('points', () => {
  it('when points are granted and taken, then the account answers {customerId, balance, held}', async () => {
    const customerId = newCustomer();
    expect((await svc.api('GET', `/customers/${customerId}/points`)).body).toEqual({ customerId, balance: 0, held: 0 });
    const grant = await svc.api('POST', `/customers/${customerId}/points`, { delta: 500, reason: 'welcome' });
    expect({ status: grant.status, body: grant.body }).toEqual({
      status: 200,
      body: { customerId, balance: 500, held: 0 },
    });
    const take = await svc.api('POST', `/customers/${customerId}/points`, { delta: -200, reason: 'correction' });
    expect(take.body).toEqual({ customerId, balance: 300, held: 0 });
    expect(
      await svc.db('points_ledger').where({ customer_id: customerId }).orderBy('id').select('delta', 'reason'),
    ).toEqual([
      { delta: 500, reason: 'welcome' },
      { delta: -200, reason: 'correction' },
    ]);
  });

  it('when a take is larger than the balance, then 409 points-insufficient and nothing changes', async () => {
    const customerId = newCustomer();
    await grantPoints(svc, customerId, 100);
    const res = await svc.api('POST', `/customers/${customerId}/points`, { delta: -101, reason: 'too much' });
    expectProblem(res, 409, 'points-insufficient');
    expect(res.body.balance).toBe(100);
    expect((await svc.api('GET', `/customers/${customerId}/points`)).body.balance).toBe(100);
    expect(await svc.db('points_ledger').where({ customer_id: customerId }).count({ n: '*' }).first()).toEqual({
      n: 1,
    });
  });

  it('when customer ids differ only in case, then they are two accounts', async () => {
    const id = newCustomer('Case');
    await grantPoints(svc, id, 7);
    expect((await svc.api('GET', `/customers/${id.toLowerCase()}/points`)).body.balance).toBe(0);
    expect((await svc.api('GET', `/customers/${id}/points`)).body.balance).toBe(7);
  });

  it.each<[string, unknown]>([
    ['delta is 0', { delta: 0, reason: 'r' }],
    ['delta is a fraction', { delta: 1.5, reason: 'r' }],
    ['reason is missing', { delta: 1 }],
    ['reason is blank', { delta: 1, reason: '  ' }],
  ])('when %s, then 400', async (_name, body) => {
    expectProblem(await svc.api('POST', `/customers/${newCustomer()}/points`, body), 400, 'bad-request');
  });

  it('when the customer id in the path is too long or padded, then 404', async () => {
    expectProblem(await svc.api('POST', `/customers/${'x'.repeat(65)}/points`, { delta: 1, reason: 'r' }), 404);
    expectProblem(await svc.api('GET', '/customers/%20c/points'), 404, 'not-found');
  });
});

describe('POST /orders with couponId and pointsToRedeem', () => {
  it.each<[string, Record<string, unknown>]>([
    ['couponId is not an id', { couponId: 'abc' }],
    ['pointsToRedeem is negative', { pointsToRedeem: -1 }],
    ['pointsToRedeem is a fraction', { pointsToRedeem: 0.5 }],
  ])('when %s, then 400 and nothing is taken', async (_name, extra) => {
    const product = await makeProduct(svc, { stock: 5 });
    const res = await svc.api('POST', '/orders', {
      customerId: 'c',
      items: [{ productId: product.id, quantity: 1 }],
      ...extra,
    });
    expectProblem(res, 400, 'bad-request');
    expect((await svc.api('GET', `/products/${product.id}`)).body.stock).toBe(5);
  });

  it('when neither is given, then the order has no coupon, no points and no discount', async () => {
    const product = await makeProduct(svc, { priceCents: 400 });
    const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId: product.id, quantity: 2 }] });
    expect(res.body).toMatchObject({ couponId: null, pointsRedeemed: 0, discountCents: 0, totalCents: 800 });
  });

  it('when a promotion is active, then its sold count and the order agree through the API', async () => {
    const product = await makeProduct(svc, { priceCents: 400 });
    const promotion = await makePromotion(svc, product.id, { priceCents: 100 });
    const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId: product.id, quantity: 3 }] });
    expect(res.body.totalCents).toBe(300);
    expect((await svc.api('GET', `/promotions/${promotion.id}`)).body.sold).toBe(3);
  });
});
