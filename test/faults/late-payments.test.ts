import { countScenario, report } from './support/invariants';
import { ORDER_TOTAL, POINTS_GRANTED, seedHoldFixtures } from './support/hold-fixtures';
import { call, createOrders, createProduct, inParallel, note, waitUntilSettled } from './support/traffic';
import { startTestService, type TestService } from '../support/service';

const ORDERS = 500;

let svc: TestService | undefined;
afterAll(async () => svc?.destroy());

/** What became of order i's holds after the close: its coupon went to another order, its points were taken, or neither. */
const fate = (i: number) => (['available', 'coupon-taken', 'points-taken', 'available'] as const)[i % 4]!;

test('500 payments arriving after the close (policy revive): every order whose holds are still there ends PAID, the rest REFUND_REQUIRED, and no money is lost or counted twice', async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', late: '8s' } });
  const s = svc;
  const product = await createProduct(s.baseUrl, 'late', 5000);
  const other = await createProduct(s.baseUrl, 'general', 5000);
  const fixtures = await seedHoldFixtures(s.baseUrl, s.db, product, ORDERS, 'late');
  const { orders, failed } = await createOrders(s.baseUrl, product, ORDERS, 50, fixtures.extra);
  expect(failed).toBe(0);
  const byIndex = new Map(orders.map((o) => [o.index, o]));
  const ids = orders.map((o) => o.id);
  expect(await waitUntilSettled(s.db, ids, 30_000, 'every order closed by its timeout')).toEqual({ CLOSED: ORDERS });

  // After the close, what some orders held goes elsewhere: the coupon to a new order, the points taken back.
  const takers: string[] = [];
  await inParallel(ORDERS, 20, async (i) => {
    if (fate(i) === 'coupon-taken') {
      const res = await call(s.baseUrl, 'POST', '/orders', {
        customerId: fixtures.customers[i],
        couponId: fixtures.couponIds[i],
        items: [{ productId: other, quantity: 1 }],
      });
      expect(res.status).toBe(201);
      takers.push(String(res.body.id));
    }
    if (fate(i) === 'points-taken') {
      const res = await call(s.baseUrl, 'POST', `/customers/${fixtures.customers[i]}/points`, {
        delta: -POINTS_GRANTED,
        reason: 'expired',
      });
      expect(res.status).toBe(200);
    }
  });

  const results = await inParallel(ORDERS, 50, (i) =>
    call(s.baseUrl, 'POST', `/orders/${byIndex.get(i)!.id}/pay`, { paymentRef: `late-${i}`, amountCents: ORDER_TOTAL }),
  );
  const wrong = results
    .map((r, i) => ({ i, fate: fate(i), status: r.status }))
    .filter((r) => r.status !== (r.fate === 'available' ? 200 : 202));
  expect(wrong).toEqual([]);

  const rows: { id: number; status: string; total_cents: number }[] = await s
    .db('orders')
    .whereIn('id', ids)
    .select('id', 'status', 'total_cents');
  const statusOf = new Map(rows.map((r) => [String(r.id), r.status]));
  const wrongState = [...byIndex].filter(
    ([i, o]) => statusOf.get(o.id) !== (fate(i) === 'available' ? 'PAID' : 'CLOSED'),
  );
  expect(wrongState).toEqual([]);
  const refunds: { reason: string; n: number }[] = await s
    .db('payments')
    .where({ status: 'REFUND_REQUIRED' })
    .select('reason')
    .count({ n: '*' })
    .groupBy('reason');
  expect(refunds.map((r) => [r.reason, Number(r.n)])).toEqual([['holds-unavailable', ORDERS / 2]]);

  // No money lost, none counted twice: payments = paid orders + payments kept for refunds.
  const sum = async (status: string) =>
    Number((await s.db('payments').where({ status }).sum({ s: 'amount_cents' }).first())?.s ?? 0);
  const paidTotal = rows.filter((r) => r.status === 'PAID').reduce((t, r) => t + Number(r.total_cents), 0);
  const all = Number((await s.db('payments').sum({ s: 'amount_cents' }).first())?.s ?? 0);
  expect({ all, paidPlusRefunds: paidTotal + (await sum('REFUND_REQUIRED')) }).toEqual({
    all: ORDERS * ORDER_TOTAL,
    paidPlusRefunds: ORDERS * ORDER_TOTAL,
  });
  // A replay of every notification changes nothing.
  const replays = await inParallel(ORDERS, 50, (i) =>
    call(s.baseUrl, 'POST', `/orders/${byIndex.get(i)!.id}/pay`, { paymentRef: `late-${i}`, amountCents: ORDER_TOTAL }),
  );
  expect(replays.map((r) => r.status)).toEqual(results.map((r) => r.status));
  expect(Number((await s.db('payments').count({ n: '*' }).first())?.n)).toBe(ORDERS);
  note(`late payments: ${ORDERS / 2} revived, ${ORDERS / 2} kept for a refund (coupon or points gone)`);

  report(await countScenario(s.db, 'late payments, revive (500 orders)', [...ids, ...takers]));
}, 180_000);
