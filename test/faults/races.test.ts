import { countScenario, report } from './support/invariants';
import {
  createOrders,
  createProduct,
  note,
  statusCounts,
  waitUntilSettled,
  type CreatedOrder,
} from './support/traffic';
import { sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

const ORDERS = 1000;
// Long enough to create all 1,000 orders before the first deadline, even on a busy machine.
const WINDOW = '15s'; // 1,000 creations take ~1 s on a quiet machine; the margin is for a loaded one

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.destroy();
  svc = undefined;
});

/**
 * Fires `action` on every order within ±40 ms of its deadline (10 ms steps, so both sides win some) and
 * returns the HTTP status of each.
 */
async function fireAtDeadlines(
  s: TestService,
  orders: CreatedOrder[],
  action: (o: CreatedOrder, i: number) => Promise<number>,
): Promise<number[]> {
  const first = Math.min(...orders.map((o) => Date.parse(o.expiresAt)));
  // The race is only a race if every order was still pending when we started aiming at its deadline.
  expect(Date.now()).toBeLessThan(first - 100);
  return Promise.all(
    orders.map(async (o, i) => {
      const at = Date.parse(o.expiresAt) + ((i % 9) - 4) * 10;
      await sleep(Math.max(0, at - Date.now()));
      return action(o, i);
    }),
  );
}

/** Which order events of these kinds each order has. */
async function eventsByOrder(s: TestService, ids: string[], kinds: string[]): Promise<Map<string, string[]>> {
  const rows: { order_id: number; event: string; source: string }[] = await s
    .db('order_events')
    .whereIn('order_id', ids)
    .whereIn('event', kinds);
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const r of rows) out.get(String(r.order_id))!.push(r.event);
  return out;
}

test('pay racing the timeout on 1,000 orders: exactly one wins each, a 200 always means PAID, stock is conserved', async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', race: WINDOW } });
  const s = svc;
  const product = await createProduct(s.baseUrl, 'race', 5000);
  const { orders, failed } = await createOrders(s.baseUrl, product, ORDERS);
  expect(failed).toBe(0);

  const results = await fireAtDeadlines(
    s,
    orders,
    async (o, i) => (await s.api('POST', `/orders/${o.id}/pay`, { paymentRef: `race-${i}` })).status,
  );
  expect(results.filter((r) => r !== 200 && r !== 409)).toEqual([]);

  const ids = orders.map((o) => o.id);
  const counts = await waitUntilSettled(s.db, ids, 20_000);
  const rows: { id: number; status: string }[] = await s.db('orders').select('id', 'status').whereIn('id', ids);
  const statusOf = new Map(rows.map((r) => [String(r.id), r.status]));
  // 200 ↔ PAID, 409 ↔ CLOSED: the answer the client got is what happened.
  const inconsistent = orders.filter(
    (o, i) =>
      (results[i] === 200) !== (statusOf.get(o.id) === 'PAID') ||
      (results[i] === 409) !== (statusOf.get(o.id) === 'CLOSED'),
  );
  expect(inconsistent).toEqual([]);
  // Exactly one terminal event per order: a pay or a timeout, never both, never two.
  const events = await eventsByOrder(s, ids, ['pay', 'timeout']);
  expect([...events].filter(([, e]) => e.length !== 1)).toEqual([]);
  const paid = results.filter((r) => r === 200).length;
  // Both sides won some: otherwise the deadlines were not raced.
  expect(paid).toBeGreaterThan(0);
  expect(paid).toBeLessThan(ORDERS);
  expect((await s.api('GET', `/products/${product}`)).body.stock).toBe(5000 - paid);
  note(`pay race: ${paid} paid, ${counts.CLOSED ?? 0} closed by the timeout`);

  report(await countScenario(s.db, 'pay vs timeout race (1,000 orders)', ids));
});

test('cancel racing the timeout on 1,000 orders: exactly one wins each, stock comes back exactly once', async () => {
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', race: WINDOW } });
  const s = svc;
  const product = await createProduct(s.baseUrl, 'race', 5000);
  const { orders, failed } = await createOrders(s.baseUrl, product, ORDERS);
  expect(failed).toBe(0);
  expect((await s.api('GET', `/products/${product}`)).body.stock).toBe(5000 - ORDERS);

  const results = await fireAtDeadlines(s, orders, async (o) => (await s.api('POST', `/orders/${o.id}/cancel`)).status);
  expect(results.filter((r) => r !== 200 && r !== 409)).toEqual([]);

  const ids = orders.map((o) => o.id);
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
  // Every order gave its stock back, once.
  expect((await s.api('GET', `/products/${product}`)).body.stock).toBe(5000);
  expect(await statusCounts(s.db, ids)).toEqual(counts);
  note(`cancel race: ${cancelled} cancelled, ${counts.CLOSED ?? 0} closed by the timeout`);

  report(await countScenario(s.db, 'cancel vs timeout race (1,000 orders)', ids));
});
