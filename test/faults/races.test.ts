import type { Knex } from 'knex';
import { countScenario, report } from './support/invariants';
import {
  ORDER_TOTAL,
  POINTS_GRANTED,
  POINTS_REDEEMED,
  seedHoldFixtures,
  type HoldFixtures,
} from './support/hold-fixtures';
import {
  call,
  createOrders,
  createProduct,
  inParallel,
  note,
  statusCounts,
  waitUntilSettled,
  type CreatedOrder,
} from './support/traffic';
import { sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

const ORDERS = 1000;
// Long enough to create all 1,000 orders (each holding stock, a promotion unit, a coupon and points) before the
// first deadline, even on a busy machine.
const WINDOW = '30s';
// Creation, the window and the race itself.
const RACE_TIMEOUT = 180_000;

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.destroy();
  svc = undefined;
});

/**
 * Fires `action` on every order from 960 ms before to 40 ms after its deadline (40 ms steps): on a loaded machine
 * a request takes up to a few hundred ms to reach its transaction while the closer acts on the millisecond, and
 * the race must be won by both sides whatever the load. Returns the HTTP status of each.
 */
async function fireAtDeadlines(
  orders: CreatedOrder[],
  action: (o: CreatedOrder, i: number) => Promise<number>,
): Promise<number[]> {
  const first = Math.min(...orders.map((o) => Date.parse(o.expiresAt)));
  // The race is only a race if every order was still pending when we started aiming at its deadline.
  expect(Date.now()).toBeLessThan(first - 100);
  return Promise.all(
    orders.map(async (o, i) => {
      const at = Date.parse(o.expiresAt) + ((i % 26) - 24) * 40;
      await sleep(Math.max(0, at - Date.now()));
      return action(o, i);
    }),
  );
}

/** Which order events of these kinds each order has, in order. */
async function eventsByOrder(s: TestService, ids: string[], kinds: string[]): Promise<Map<string, string[]>> {
  const rows: { order_id: number; event: string }[] = await s
    .db('order_events')
    .whereIn('order_id', ids)
    .whereIn('event', kinds)
    .orderBy('id');
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const r of rows) out.get(String(r.order_id))!.push(r.event);
  return out;
}

/** Where every kind the race's orders held stands, summed over all of them. */
async function holdsNow(db: Knex, product: string, f: HoldFixtures) {
  const coupons: { status: string; n: number }[] = await db('coupons')
    .whereIn('id', f.couponIds)
    .select('status')
    .count({ n: '*' })
    .groupBy('status');
  const points = await db('points_accounts')
    .whereIn('customer_id', f.customers)
    .sum({ balance: 'balance', held: 'held' })
    .first();
  return {
    stock: Number((await db('products').where({ id: product }).first('stock')).stock),
    promotionSold: Number((await db('promotions').where({ id: f.promotionId }).first('sold')).sold),
    coupons: Object.fromEntries(coupons.map((c) => [c.status, Number(c.n)])),
    points: { balance: Number(points?.balance), held: Number(points?.held) },
  };
}

/** A service, a product with `stock`, hold fixtures for ORDERS customers, and one order per customer holding all four kinds. */
async function raceOrders(stock: number) {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', race: WINDOW } });
  const s = svc;
  const product = await createProduct(s.baseUrl, 'race', stock);
  const fixtures = await seedHoldFixtures(s.baseUrl, s.db, product, ORDERS);
  const started = Date.now();
  const { orders, failed } = await createOrders(s.baseUrl, product, ORDERS, 50, fixtures.extra);
  expect(failed).toBe(0);
  note(`${ORDERS} orders holding stock, a promotion unit, a coupon and points created in ${Date.now() - started} ms`);
  return { s, product, fixtures, orders, ids: orders.map((o) => o.id) };
}

test(
  'pay racing the timeout on 1,000 orders holding all four kinds: each is paid once, in time or revived, and everything is kept exactly once',
  async () => {
    const { s, product, fixtures, orders, ids } = await raceOrders(5000);
    const results = await fireAtDeadlines(
      orders,
      async (o) =>
        (await call(s.baseUrl, 'POST', `/orders/${o.id}/pay`, { paymentRef: `race-${o.id}`, amountCents: ORDER_TOTAL }))
          .status,
    );
    // Policy revive and nothing taken meanwhile: a payment that lost the race revives the order.
    expect(results.filter((r) => r !== 200)).toEqual([]);

    await waitUntilSettled(s.db, ids, 20_000);
    expect(await statusCounts(s.db, ids)).toEqual({ PAID: ORDERS });
    const events = await eventsByOrder(s, ids, ['pay', 'timeout', 'revive']);
    const paths = [...events.values()].map((e) => e.join(','));
    // Paid before the deadline, or closed by the timeout and revived by the payment: never both, never twice.
    expect(paths.filter((p) => p !== 'pay' && p !== 'timeout,revive')).toEqual([]);
    const revived = paths.filter((p) => p === 'timeout,revive').length;
    expect(revived).toBeGreaterThan(0);
    expect(revived).toBeLessThan(ORDERS);
    expect(await holdsNow(s.db, product, fixtures)).toEqual({
      stock: 5000 - ORDERS,
      promotionSold: ORDERS,
      coupons: { USED: ORDERS },
      points: { balance: ORDERS * (POINTS_GRANTED - POINTS_REDEEMED), held: 0 },
    });
    const payments: { status: string; n: number }[] = await s
      .db('payments')
      .select('status')
      .count({ n: '*' })
      .groupBy('status');
    expect(payments.map((p) => [p.status, Number(p.n)])).toEqual([['CAPTURED', ORDERS]]);
    note(`pay race: ${ORDERS - revived} paid in time, ${revived} closed by the timeout and revived by their payment`);

    report(await countScenario(s.db, 'pay vs timeout race, all four kinds (1,000 orders)', ids));
  },
  RACE_TIMEOUT,
);

test(
  'cancel racing the timeout on 1,000 orders holding all four kinds: exactly one wins each, everything comes back exactly once',
  async () => {
    const { s, product, fixtures, orders, ids } = await raceOrders(5000);
    expect(await holdsNow(s.db, product, fixtures)).toEqual({
      stock: 5000 - ORDERS,
      promotionSold: ORDERS,
      coupons: { HELD: ORDERS },
      points: { balance: ORDERS * (POINTS_GRANTED - POINTS_REDEEMED), held: ORDERS * POINTS_REDEEMED },
    });

    const results = await fireAtDeadlines(
      orders,
      async (o) => (await call(s.baseUrl, 'POST', `/orders/${o.id}/cancel`)).status,
    );
    expect(results.filter((r) => r !== 200 && r !== 409)).toEqual([]);

    const counts = await waitUntilSettled(s.db, ids, 20_000);
    const rows: { id: number; status: string }[] = await s.db('orders').select('id', 'status').whereIn('id', ids);
    const statusOf = new Map(rows.map((r) => [String(r.id), r.status]));
    // 200 ↔ CANCELLED, 409 ↔ CLOSED.
    const inconsistent = orders.filter(
      (o, i) =>
        (results[i] === 200) !== (statusOf.get(o.id) === 'CANCELLED') ||
        (results[i] === 409) !== (statusOf.get(o.id) === 'CLOSED'),
    );
    expect(inconsistent).toEqual([]);
    // Exactly one releasing event per order: a cancel or a timeout.
    const events = await eventsByOrder(s, ids, ['cancel', 'timeout']);
    expect([...events].filter(([, e]) => e.length !== 1)).toEqual([]);
    const cancelled = results.filter((r) => r === 200).length;
    expect(cancelled).toBeGreaterThan(0);
    expect(cancelled).toBeLessThan(ORDERS);
    // Every order gave everything back, once.
    expect(await holdsNow(s.db, product, fixtures)).toEqual({
      stock: 5000,
      promotionSold: 0,
      coupons: { AVAILABLE: ORDERS },
      points: { balance: ORDERS * POINTS_GRANTED, held: 0 },
    });
    note(`cancel race: ${cancelled} cancelled, ${counts.CLOSED ?? 0} closed by the timeout`);

    report(await countScenario(s.db, 'cancel vs timeout race, all four kinds (1,000 orders)', ids));
  },
  RACE_TIMEOUT,
);

test(
  'two orders racing for the last use of each of 1,000 coupons and the last unit of each of 1,000 promotions: exactly one gets it',
  async () => {
    svc = await startTestService();
    const s = svc;
    const product = await createProduct(s.baseUrl, 'general', 10_000);
    const fixtures = await seedHoldFixtures(s.baseUrl, s.db, product, ORDERS, 'last');
    const order = (body: Record<string, unknown>) => call(s.baseUrl, 'POST', '/orders', body);

    // The coupon: the same customer sends two orders with it at once (no promotion on these: a product of their own).
    const plain = await createProduct(s.baseUrl, 'general', 10_000);
    const couponPairs = await inParallel(ORDERS, 25, (i) =>
      Promise.all(
        [0, 1].map(() =>
          order({
            customerId: fixtures.customers[i],
            couponId: fixtures.couponIds[i],
            items: [{ productId: plain, quantity: 1 }],
          }),
        ),
      ),
    );
    const couponOutcomes = couponPairs.map((pair) =>
      pair
        .map((r) => (r.status === 201 ? '201' : `${r.status} ${r.body.type}`))
        .sort()
        .join(' | '),
    );
    expect(new Set(couponOutcomes)).toEqual(new Set(['201 | 409 urn:order-timeout:problem:coupon-unavailable']));

    // The promotion unit: 1,000 products, each with a promotion of quota 1; two customers order it at once.
    const now = new Date();
    await s.db('products').insert(
      Array.from({ length: ORDERS }, (_, i) => ({
        sku: `last-${i}`,
        name: 'p',
        category: 'general',
        price_cents: 1000,
        stock: 10,
        stock_received: 10,
        created_at: now,
        updated_at: now,
      })),
    );
    const products: { id: number }[] = await s.db('products').where('sku', 'like', 'last-%').orderBy('id').select('id');
    await s.db('promotions').insert(
      products.map((p) => ({
        product_id: p.id,
        price_cents: 500,
        quota: 1,
        per_customer_limit: 1,
        starts_at: new Date(now.getTime() - 60_000),
        ends_at: new Date(now.getTime() + 3_600_000),
        sold: 0,
        created_at: now,
        updated_at: now,
      })),
    );
    const unitPairs = await inParallel(ORDERS, 25, (i) =>
      Promise.all(
        ['a', 'b'].map((who) =>
          order({ customerId: `unit-${who}-${i}`, items: [{ productId: String(products[i]!.id), quantity: 1 }] }),
        ),
      ),
    );
    const unitOutcomes = unitPairs.map((pair) =>
      pair
        .map((r) => (r.status === 201 ? '201' : `${r.status} ${r.body.type}`))
        .sort()
        .join(' | '),
    );
    expect(new Set(unitOutcomes)).toEqual(new Set(['201 | 409 urn:order-timeout:problem:promotion-sold-out']));

    expect(
      await s.db('coupons').whereIn('id', fixtures.couponIds).where({ status: 'HELD' }).count({ n: '*' }).first(),
    ).toEqual({ n: ORDERS });
    const ids = [...couponPairs, ...unitPairs]
      .flat()
      .filter((r) => r.status === 201)
      .map((r) => String(r.body.id));
    expect(ids).toHaveLength(2 * ORDERS);
    report(await countScenario(s.db, 'last coupon use and last promotion unit (2 × 1,000 pairs)', ids));
  },
  RACE_TIMEOUT,
);
