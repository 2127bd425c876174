import { runAudit } from '../../src/jobs/audit';
import { runCli } from '../support/cli';
import { eventsOf, expectProblem, expireInDb, makeProduct, metricValue } from '../support/fixtures';
import { grantPoints, holdsOf, makeCoupon, makePromotion, newCustomer } from '../support/holds';
import { pay, signature } from '../support/payments';
import { startTestService, type TestService } from '../support/service';

const SECRET = 'whsec-test-payments';

let svc: TestService;
let refundSvc: TestService;
beforeAll(async () => {
  [svc, refundSvc] = await Promise.all([
    startTestService({ payments: { webhookSecret: SECRET, latePaymentPolicy: 'revive' } }),
    startTestService({ payments: { webhookSecret: '', latePaymentPolicy: 'refund' } }),
  ]);
});
afterAll(async () => Promise.all([svc?.destroy(), refundSvc?.destroy()]));

const signed = (s: TestService, orderId: string, ref: string, amountCents?: number) =>
  pay(s, orderId, ref, { amountCents, secret: s === svc ? SECRET : undefined });

/** A pending order holding all four kinds, on fixtures of its own. */
async function fullOrder(s: TestService) {
  const customerId = newCustomer();
  const product = await makeProduct(s, { stock: 10, priceCents: 1000 });
  const promotion = await makePromotion(s, product.id, { priceCents: 800, quota: 5, perCustomerLimit: 5 });
  const coupon = await makeCoupon(s, customerId, { discountCents: 100 });
  await grantPoints(s, customerId, 1000);
  const res = await s.api('POST', '/orders', {
    customerId,
    items: [{ productId: product.id, quantity: 2 }],
    couponId: coupon.id,
    pointsToRedeem: 200,
  });
  expect(res.status).toBe(201);
  return {
    order: res.body,
    ids: { productId: product.id, promotionId: promotion.id, couponId: coupon.id, customerId },
  };
}

/** Makes an order overdue and lets a read close it (source read), as a timeout would. */
async function closeByTimeout(s: TestService, orderId: string): Promise<void> {
  await expireInDb(s, orderId);
  expect((await s.api('GET', `/orders/${orderId}`)).body.status).toBe('CLOSED');
}

async function paymentsOf(s: TestService, orderId: string) {
  return s
    .db('payments')
    .where({ order_id: orderId })
    .orderBy('id')
    .select('payment_ref', 'status', 'reason', 'amount_cents');
}

describe('the signature', () => {
  it('when X-Signature is missing, wrong or malformed, then 401 invalid-signature, nothing stored, the order still pending', async () => {
    const { order } = await fullOrder(svc);
    const body = JSON.stringify({ paymentRef: `sig-${order.id}`, amountCents: order.totalCents });
    for (const header of [
      undefined,
      signature('another-secret', body),
      signature(SECRET, body.replace('sig-', 'gis-')),
      'sha256=xyz',
      `md5=${signature(SECRET, body).slice(7)}`,
      signature(SECRET, body).slice(7),
    ]) {
      const res = await svc.api('POST', `/orders/${order.id}/pay`, body, header ? { 'x-signature': header } : {});
      expectProblem(res, 401, 'invalid-signature');
    }
    expect(await paymentsOf(svc, order.id)).toEqual([]);
    expect((await svc.db('orders').where({ id: order.id }).first('status')).status).toBe('PENDING_PAYMENT');
  });

  it('when the signature is right (hex in either case), then the payment is taken', async () => {
    const { order } = await fullOrder(svc);
    const body = JSON.stringify({ paymentRef: `sig-ok-${order.id}`, amountCents: order.totalCents });
    const res = await svc.api('POST', `/orders/${order.id}/pay`, body, {
      'x-signature': `sha256=${signature(SECRET, body).slice(7).toUpperCase()}`,
    });
    expect({ status: res.status, orderStatus: res.body.status }).toEqual({ status: 200, orderStatus: 'PAID' });
  });

  it('when an unsigned notification names an order that does not exist, then 401 (it learns nothing about orders)', async () => {
    expectProblem(await svc.api('POST', '/orders/987654321/pay', { paymentRef: 'x', amountCents: 1 }), 401);
  });

  it('when the amount is not the total, then 409 amount-mismatch and nothing is stored', async () => {
    const { order } = await fullOrder(svc);
    const res = await signed(svc, order.id, `short-${order.id}`, order.totalCents + 1);
    expectProblem(res, 409, 'amount-mismatch');
    expect(res.body).toMatchObject({ totalCents: order.totalCents, amountCents: order.totalCents + 1 });
    expect(await paymentsOf(svc, order.id)).toEqual([]);
  });
});

describe('late payments, policy revive', () => {
  it('when a closed order is paid and everything it held is still there, then it is revived: PAID, all four kinds taken back and kept', async () => {
    const { order, ids } = await fullOrder(svc);
    const before = await holdsOf(svc, ids);
    await closeByTimeout(svc, order.id);
    const revivedBefore = await metricValue(svc, 'order_timeout_late_payments_total', { outcome: 'revived' });

    const res = await signed(svc, order.id, `late-${order.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'PAID', paymentRef: `late-${order.id}` });
    expect(await holdsOf(svc, ids)).toEqual({
      stock: before.stock,
      promotionSold: before.promotionSold,
      customerUnits: before.customerUnits,
      coupon: 'USED',
      points: { balance: before.points.balance, held: 0 },
    });
    expect((await eventsOf(svc, order.id)).map((e) => [e.event, e.from, e.to, e.source])).toEqual([
      ['create', null, 'PENDING_PAYMENT', 'http'],
      ['timeout', 'PENDING_PAYMENT', 'CLOSED', 'read'],
      ['revive', 'CLOSED', 'PAID', 'http'],
    ]);
    expect(await paymentsOf(svc, order.id)).toEqual([
      { payment_ref: `late-${order.id}`, status: 'CAPTURED', reason: null, amount_cents: order.totalCents },
    ]);
    expect(await metricValue(svc, 'order_timeout_late_payments_total', { outcome: 'revived' })).toBe(revivedBefore + 1);
  });

  it('when the coupon went to another order after the close, then 202 REFUND_REQUIRED, the order stays CLOSED and nothing is taken', async () => {
    const { order, ids } = await fullOrder(svc);
    await closeByTimeout(svc, order.id);
    const other = await svc.api('POST', '/orders', {
      customerId: ids.customerId,
      items: [{ productId: ids.productId, quantity: 1 }],
      couponId: ids.couponId,
    });
    expect(other.status).toBe(201);
    const before = await holdsOf(svc, ids);

    const res = await signed(svc, order.id, `late-${order.id}`);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 202,
      body: { orderId: order.id, paymentRef: `late-${order.id}`, status: 'REFUND_REQUIRED' },
    });
    expect(await holdsOf(svc, ids)).toEqual(before);
    expect((await svc.db('orders').where({ id: order.id }).first('status')).status).toBe('CLOSED');
    expect(await paymentsOf(svc, order.id)).toEqual([
      {
        payment_ref: `late-${order.id}`,
        status: 'REFUND_REQUIRED',
        reason: 'holds-unavailable',
        amount_cents: order.totalCents,
      },
    ]);
  });

  it('when the stock sold out after the close, then 202 REFUND_REQUIRED and the coupon and points stay with the customer', async () => {
    const { order, ids } = await fullOrder(svc);
    await closeByTimeout(svc, order.id);
    await svc.db('products').where({ id: ids.productId }).update({ stock: 1, stock_received: 9 });
    const before = await holdsOf(svc, ids);
    expect((await signed(svc, order.id, `late-${order.id}`)).status).toBe(202);
    expect(await holdsOf(svc, ids)).toEqual(before);
    expect(before).toMatchObject({ coupon: 'AVAILABLE', points: { balance: 1000, held: 0 } });
    await svc.db('products').where({ id: ids.productId }).update({ stock: 10, stock_received: 10 });
  });

  it('when the provider replays a notification, then it gets the same answer and the payment is stored once; the same ref on another order is a 409', async () => {
    const paid = (await fullOrder(svc)).order;
    const refunded = (await fullOrder(svc)).order;
    await svc.api('POST', `/orders/${refunded.id}/cancel`);
    const first = [await signed(svc, paid.id, `r-${paid.id}`), await signed(svc, refunded.id, `r-${refunded.id}`)];
    const again = [await signed(svc, paid.id, `r-${paid.id}`), await signed(svc, refunded.id, `r-${refunded.id}`)];
    expect(again.map((r) => [r.status, r.body])).toEqual(first.map((r) => [r.status, r.body]));
    expect(first.map((r) => r.status)).toEqual([200, 202]);
    expect((await paymentsOf(svc, paid.id)).length + (await paymentsOf(svc, refunded.id)).length).toBe(2);

    const other = (await fullOrder(svc)).order;
    const reuse = await signed(svc, other.id, `r-${paid.id}`, other.totalCents);
    expectProblem(reuse, 409, 'payment-ref-mismatch');
    expect(await paymentsOf(svc, other.id)).toEqual([]);
  });

  it('when two payments with different refs race for one pending order, then one pays it and the other is kept for a refund', async () => {
    for (let i = 0; i < 10; i++) {
      const { order } = await fullOrder(svc);
      const results = await Promise.all([
        signed(svc, order.id, `a-${order.id}`),
        signed(svc, order.id, `b-${order.id}`),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 202]);
      expect((await paymentsOf(svc, order.id)).map((p: { status: string }) => p.status).sort()).toEqual([
        'CAPTURED',
        'REFUND_REQUIRED',
      ]);
    }
    const report = await runAudit(svc.db, new Date(), 60_000);
    expect([...report.kinds, report.payments].filter((k) => k.mismatches.length > 0)).toEqual([]);
  });
});

describe('late payments, policy refund', () => {
  it('when a closed order is paid, then 202 REFUND_REQUIRED (late-payment), the order stays CLOSED and nothing is taken', async () => {
    const { order, ids } = await fullOrder(refundSvc);
    await closeByTimeout(refundSvc, order.id);
    const before = await holdsOf(refundSvc, ids);
    const res = await signed(refundSvc, order.id, `late-${order.id}`);
    expect(res.status).toBe(202);
    expect(await holdsOf(refundSvc, ids)).toEqual(before);
    expect(await paymentsOf(refundSvc, order.id)).toEqual([
      {
        payment_ref: `late-${order.id}`,
        status: 'REFUND_REQUIRED',
        reason: 'late-payment',
        amount_cents: order.totalCents,
      },
    ]);
    expect(await metricValue(refundSvc, 'order_timeout_late_payments_total', { outcome: 'refund' })).toBe(1);
  });
});

describe('GET /payments and the refunds CLI', () => {
  it('when payments are listed by status, then only those come back; a bad status is a 400', async () => {
    const kept = (await fullOrder(refundSvc)).order;
    expect((await signed(refundSvc, kept.id, `keep-${kept.id}`)).status).toBe(200);
    const cancelled = (await fullOrder(refundSvc)).order;
    await refundSvc.api('POST', `/orders/${cancelled.id}/cancel`);
    expect((await signed(refundSvc, cancelled.id, `back-${cancelled.id}`)).status).toBe(202);

    const refunds = await refundSvc.api('GET', '/payments?status=REFUND_REQUIRED');
    expect(refunds.body).toContainEqual({
      paymentRef: `back-${cancelled.id}`,
      orderId: cancelled.id,
      amountCents: cancelled.totalCents,
      status: 'REFUND_REQUIRED',
      reason: 'order-cancelled',
      receivedAt: expect.any(String),
      refundedAt: null,
    });
    expect(refunds.body.every((p: { status: string }) => p.status === 'REFUND_REQUIRED')).toBe(true);
    const all = await refundSvc.api('GET', '/payments');
    expect(all.body.map((p: { paymentRef: string }) => p.paymentRef)).toContain(`keep-${kept.id}`);
    expect((await refundSvc.api('GET', '/payments?limit=1')).body).toHaveLength(1);
    for (const q of ['?status=PAID', '?status=', '?status=REFUNDED&status=CAPTURED', '?limit=0', '?other=1'])
      expectProblem(await refundSvc.api('GET', `/payments${q}`), 400, 'bad-request');
  });

  it('when an operator lists refunds and marks one refunded, then it leaves the list, and marking it again says so', async () => {
    const env = { AMQP_URL: refundSvc.config.amqp.url, MYSQL_URL: refundSvc.config.mysql.url };
    const order = (await fullOrder(refundSvc)).order;
    await refundSvc.api('POST', `/orders/${order.id}/cancel`);
    const ref = `cli-${order.id}`;
    expect((await signed(refundSvc, order.id, ref)).status).toBe(202);

    const list = await runCli(['refunds', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${ref}\\s+${order.id}\\s+${order.totalCents}\\s+order-cancelled\\s`, 'm'));
    const json = JSON.parse((await runCli(['refunds', 'list', '--json'], env)).stdout);
    expect(json).toContainEqual(
      expect.objectContaining({ paymentRef: ref, orderId: order.id, reason: 'order-cancelled' }),
    );

    const marked = await runCli(['refunds', 'mark-refunded', ref], env);
    expect({ code: marked.code, stdout: marked.stdout }).toEqual({
      code: 0,
      stdout: `payment ${ref} (order ${order.id}, ${order.totalCents} cents) marked REFUNDED\n`,
    });
    expect((await runCli(['refunds', 'list', '--json'], env)).stdout).not.toContain(ref);
    const again = await runCli(['refunds', 'mark-refunded', ref], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already refunded/);
    const unknown = await runCli(['refunds', 'mark-refunded', 'no-such-ref'], env);
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 1,
      stderr: 'order-timeout: no payment no-such-ref\n',
    });
    const paid = (await fullOrder(refundSvc)).order;
    await signed(refundSvc, paid.id, `cap-${paid.id}`);
    expect((await runCli(['refunds', 'mark-refunded', `cap-${paid.id}`], env)).stderr).toMatch(
      /is CAPTURED, not REFUND_REQUIRED/,
    );
  });
});

describe('the audit and money', () => {
  it('when a captured payment is changed by hand, then the audit names the order', async () => {
    const { order } = await fullOrder(svc);
    expect((await signed(svc, order.id, `audit-${order.id}`)).status).toBe(200);
    expect((await runAudit(svc.db, new Date(), 60_000)).payments.mismatches).toEqual([]);
    await svc
      .db('payments')
      .where({ payment_ref: `audit-${order.id}` })
      .update({ amount_cents: 1 });
    try {
      expect((await runAudit(svc.db, new Date(), 60_000)).payments.mismatches).toEqual([
        { orderId: order.id, status: 'PAID', totalCents: order.totalCents, capturedPayments: 1, capturedCents: 1 },
      ]);
    } finally {
      await svc
        .db('payments')
        .where({ payment_ref: `audit-${order.id}` })
        .update({ amount_cents: order.totalCents });
    }
  });
});

describe('late payments and the per-customer limit', () => {
  it('when the customer bought up to the limit after the close, then the late payment cannot revive the order: 202, nothing taken', async () => {
    const customerId = newCustomer();
    const product = await makeProduct(svc, { stock: 10, priceCents: 1000 });
    const promotion = await makePromotion(svc, product.id, { priceCents: 700, quota: 10, perCustomerLimit: 2 });
    const first = await svc.api('POST', '/orders', { customerId, items: [{ productId: product.id, quantity: 2 }] });
    await closeByTimeout(svc, first.body.id);
    const second = await svc.api('POST', '/orders', { customerId, items: [{ productId: product.id, quantity: 2 }] });
    expect(second.status).toBe(201);
    const res = await signed(svc, first.body.id, `limit-${first.body.id}`);
    expect(res.status).toBe(202);
    expect((await svc.api('GET', `/promotions/${promotion.id}`)).body.sold).toBe(2);
    expect(await paymentsOf(svc, first.body.id)).toEqual([
      expect.objectContaining({ status: 'REFUND_REQUIRED', reason: 'holds-unavailable' }),
    ]);
    // Another customer's units do not count against this one.
    const other = await svc.api('POST', '/orders', {
      customerId: newCustomer(),
      items: [{ productId: product.id, quantity: 2 }],
    });
    expect(other.status).toBe(201);
  });
});
