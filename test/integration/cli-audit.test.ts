import { runCli } from '../support/cli';
import { makeOrder, makeProduct, orderRow, stockOf } from '../support/fixtures';
import { grantPoints, makeCoupon, makePromotion, newCustomer } from '../support/holds';
import { startTestService, type TestService } from '../support/service';
import { pay as payOrder } from '../support/payments';

// The service makes, migrates and fills the scratch database; the CLI runs against it as a separate process.
let svc: TestService;
let env: { AMQP_URL: string; MYSQL_URL: string };
beforeAll(async () => {
  // Orders here are made overdue by hand. A 15 m order's timeout message first waits the 10 m level, so the
  // closer cannot close them behind the test's back (with short levels it hops back every few seconds).
  svc = await startTestService({ delayLevels: '1s,10m' });
  env = { AMQP_URL: svc.config.amqp.url, MYSQL_URL: svc.config.mysql.url };
});
afterAll(async () => svc?.destroy());

const cli = (...args: string[]) => runCli(args, env);
const NO_MISMATCHES = {
  stockMismatches: [],
  promotionMismatches: [],
  couponMismatches: [],
  pointsMismatches: [],
  paymentMismatches: [],
};

async function pay(id: string) {
  const res = await payOrder(svc, id, `pay-${id}`);
  if (res.status !== 200) throw new Error(`pay answered ${res.status}: ${JSON.stringify(res.body)}`);
}
async function cancel(id: string) {
  const res = await svc.api('POST', `/orders/${id}/cancel`);
  if (res.status !== 200) throw new Error(`cancel answered ${res.status}: ${JSON.stringify(res.body)}`);
}
async function skuOf(productId: string): Promise<string> {
  return (await svc.db('products').where({ id: productId }).first('sku')).sku;
}
/** Moves a deadline into the past straight in the database; reading the order through the API would close it. */
async function overdue(orderId: string, agoMs: number) {
  await svc
    .db('orders')
    .where({ id: orderId })
    .update({ expires_at: new Date(Date.now() - agoMs) });
}

describe('audit', () => {
  test('when the database is consistent (orders pending, paid and cancelled), then audit passes with exit 0', async () => {
    const product = (await makeProduct(svc, { stock: 50 })).id;
    const [, paid, cancelled] = [
      await makeOrder(svc, [{ productId: product, quantity: 2 }]),
      await makeOrder(svc, [{ productId: product, quantity: 3 }]),
      await makeOrder(svc, [{ productId: product, quantity: 4 }]),
    ];
    await pay(paid.id);
    await cancel(cancelled.id);

    const res = await cli('audit');
    expect({ code: res.code, stdout: res.stdout, stderr: res.stderr }).toEqual({
      code: 0,
      stdout:
        'audit passed: stock, promotion, coupon, points add up; payments match their orders; no overdue pending orders\n',
      stderr: '',
    });
    const json = await cli('audit', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, ...NO_MISMATCHES, overduePending: [] });
  });

  test("when a product's stock is changed by hand, then audit exits 1 naming the product, and --json gives the figures", async () => {
    const product = (await makeProduct(svc, { stock: 20 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 3 }]);
    await pay(order.id);
    const sku = await skuOf(product);
    await svc.db.raw('UPDATE products SET stock = stock + 5 WHERE id = ?', [product]);
    try {
      const res = await cli('audit');
      expect(res.code).toBe(1);
      expect(res.stdout).toContain('stock not conserved');
      const row = res.stdout.split('\n').find((l) => l.includes(sku));
      expect(row).toBeDefined();
      expect(row!.split(/\s+/)).toEqual([product, sku, '22', '0', '3', '20', '5']);

      const json = await cli('audit', '--json');
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        ok: false,
        ...NO_MISMATCHES,
        stockMismatches: [{ productId: product, sku, stock: 22, held: 0, sold: 3, received: 20, difference: 5 }],
        overduePending: [],
      });
    } finally {
      await svc.db.raw('UPDATE products SET stock = stock - 5 WHERE id = ?', [product]);
    }
    expect((await cli('audit')).code).toBe(0);
  });

  test('when a coupon, a promotion and a points account are changed by hand, then audit exits 1 naming each', async () => {
    const customerId = newCustomer();
    const product = (await makeProduct(svc, { stock: 20 })).id;
    const promotion = await makePromotion(svc, product, { quota: 10 });
    const coupon = await makeCoupon(svc, customerId);
    await grantPoints(svc, customerId, 500);
    const res = await svc.api('POST', '/orders', {
      customerId,
      items: [{ productId: product, quantity: 2 }],
      couponId: coupon.id,
      pointsToRedeem: 100,
    });
    expect(res.status).toBe(201);
    expect((await cli('audit')).code).toBe(0);

    const tamper = async (sign: 1 | -1) => {
      await svc.db.raw('UPDATE promotions SET sold = sold + ? WHERE id = ?', [sign, promotion.id]);
      await svc.db.raw('UPDATE points_accounts SET balance = balance + ? WHERE customer_id = ?', [
        sign * 5,
        customerId,
      ]);
      await svc
        .db('coupons')
        .where({ id: coupon.id })
        .update(sign > 0 ? { status: 'USED' } : { status: 'HELD' });
    };
    await tamper(1);
    try {
      const text = await cli('audit');
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('promotion units not conserved');
      expect(text.stdout).toContain('coupons not held as they should be');
      expect(text.stdout).toContain('points not conserved');
      const json = JSON.parse((await cli('audit', '--json')).stdout);
      expect(json).toMatchObject({
        ok: false,
        stockMismatches: [],
        promotionMismatches: [{ promotionId: promotion.id, sold: 3, onOrders: 2, difference: 1 }],
        couponMismatches: [
          { couponId: coupon.id, status: 'USED', orderId: res.body.id, pendingHolders: 1, paidHolders: 0 },
        ],
        pointsMismatches: [
          { customerId, balance: 405, held: 100, onPendingOrders: 100, granted: 500, taken: 0, spent: 0 },
        ],
      });
    } finally {
      await tamper(-1);
    }
    expect((await cli('audit')).code).toBe(0);
  });

  test('when an order is still PENDING_PAYMENT past its deadline by more than the grace, then audit exits 1 naming the order', async () => {
    const product = (await makeProduct(svc, { stock: 10 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
    await overdue(order.id, 10_000);
    try {
      // The default grace (1m) still covers it.
      expect((await cli('audit')).code).toBe(0);

      const res = await cli('audit', '--grace', '1s');
      expect(res.code).toBe(1);
      expect(res.stdout).toContain('pending orders overdue by more than 1s');
      expect(res.stdout).toMatch(new RegExp(`^${order.id}\\s+\\d{4}-\\d{2}-\\d{2}T`, 'm'));

      const json = await cli('audit', '--grace', '1s', '--json');
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        ok: false,
        ...NO_MISMATCHES,
        overduePending: [{ id: order.id, expiresAt: expect.any(String) }],
      });
    } finally {
      await svc
        .db('orders')
        .where({ id: order.id })
        .update({ expires_at: new Date(Date.now() + 3_600_000) });
    }
  });

  test('when the database is unreachable or a flag is bad, then audit exits 2 with one line on stderr', async () => {
    const down = await runCli(['audit'], { ...env, MYSQL_URL: 'mysql://root@127.0.0.1:1/nowhere' });
    expect(down.code).toBe(2);
    expect(down.stdout).toBe('');
    expect(down.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^order-timeout: database unreachable .*127\.0\.0\.1:1/),
    ]);

    const grace = await cli('audit', '--grace', 'soon');
    expect(grace.code).toBe(2);
    expect(grace.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^order-timeout: --grace: .*soon/)]);
  });
});

describe('sweep', () => {
  test('when an order is overdue, then sweep --dry-run lists it and changes nothing, and sweep closes it (source cli, stock back)', async () => {
    const product = (await makeProduct(svc, { stock: 10 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 4 }]);
    expect(await stockOf(svc, product)).toBe(6);
    await overdue(order.id, 5_000);

    const dry = await cli('sweep', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^${order.id}\\s+\\d{4}-`, 'm'));
    expect(dry.stdout).toContain('would close 1 overdue order(s)');
    const dryJson = await cli('sweep', '--dry-run', '--json');
    expect(JSON.parse(dryJson.stdout)).toEqual({
      dryRun: true,
      count: 1,
      orders: [{ orderId: order.id, expiresAt: expect.any(String) }],
    });
    expect((await orderRow(svc, order.id)).status).toBe('PENDING_PAYMENT');
    expect(await stockOf(svc, product)).toBe(6);

    const res = await cli('sweep');
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
    expect(res.stdout).toMatch(new RegExp(`^${order.id}\\s+\\d{4}-`, 'm'));
    expect(res.stdout).toContain('closed 1 overdue order(s)');
    expect((await orderRow(svc, order.id)).status).toBe('CLOSED');
    expect(await stockOf(svc, product)).toBe(10);
    const events = await svc.db('order_events').where({ order_id: order.id }).orderBy('id');
    expect(
      events.map((e: { event: string; to_status: string; source: string }) => [e.event, e.to_status, e.source]),
    ).toEqual([
      ['create', 'PENDING_PAYMENT', 'http'],
      ['timeout', 'CLOSED', 'cli'],
    ]);

    // Nothing left to do, and the books balance.
    const again = await cli('sweep');
    expect(again.stdout).toContain('closed 0 overdue order(s)');
    expect((await cli('audit', '--grace', '1s')).code).toBe(0);
  });

  test('when the database is unreachable, then sweep exits 2 with one line on stderr', async () => {
    const res = await runCli(['sweep'], { ...env, MYSQL_URL: 'mysql://root@127.0.0.1:1/nowhere' });
    expect(res.code).toBe(2);
    expect(res.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^order-timeout: database unreachable/)]);
  });
});
