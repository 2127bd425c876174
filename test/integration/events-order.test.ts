import { createScratch, type Scratch } from '../../bench/support';
import { connectDatabase } from '../../src/db/connect';
import { applyTransition } from '../../src/db/order-transitions';
import { transitionFor } from '../../src/domain/order-lifecycle';
import { spawnService, type ServiceChild } from '../support/child-service';
import { consumeEvents, firstCopies, sequenceProblems, type EventConsumer } from '../support/events';

// Two service processes on one database and vhost, as in production behind a load balancer.
let scratch: Scratch;
let a: ServiceChild;
let b: ServiceChild;
let consumer: EventConsumer;
let db: ReturnType<typeof connectDatabase>;
let product: string;

const call = async (svc: ServiceChild, method: string, path: string, body?: unknown) => {
  const res = await fetch(svc.baseUrl + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { id: string; totalCents: number } };
};

beforeAll(async () => {
  scratch = await createScratch(2);
  const env = { MYSQL_URL: scratch.mysqlUrl, AMQP_URL: scratch.amqpUrl, SHUTDOWN_READINESS_DELAY: '0' };
  [a, b] = await Promise.all([spawnService(env), spawnService(env)]);
  db = connectDatabase({ url: scratch.mysqlUrl, poolSize: 2, multipleStatements: true });
  consumer = await consumeEvents(scratch.amqpUrl);
  product = (
    await call(a, 'POST', '/products', { sku: 'p', name: 'p', category: 'books', priceCents: 100, stock: 100_000 })
  ).body.id;
}, 90_000);
afterAll(async () => {
  await consumer?.close();
  await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
  await db?.destroy();
  await scratch?.destroy();
});

test('when a process committed an event and died before publishing it, then a later event of that order from another process waits for it', async () => {
  const order = (await call(a, 'POST', '/orders', { customerId: 'c', items: [{ productId: product, quantity: 1 }] }))
    .body;
  await consumer.waitFor(() => consumer.of(order.id).length === 1, 'the created event');
  // What a process killed right after its commit leaves: the cancel and its event row, claimed by it for 2 s more.
  const claimedUntil = Date.now() + 2_000;
  await applyTransition(db, {
    orderId: order.id,
    transition: transitionFor('cancel'),
    source: 'http',
    now: new Date(),
    events: { owner: 'killed-process', claimForMs: 2_000 },
  });
  // Process B stores a payment for the cancelled order: its refund_required event comes after the cancel.
  expect(
    (await call(b, 'POST', `/orders/${order.id}/pay`, { paymentRef: `r-${order.id}`, amountCents: order.totalCents }))
      .status,
  ).toBe(202);
  await consumer.waitFor(() => consumer.of(order.id).length === 3, 'three events', 20_000);
  const events = consumer.of(order.id);
  expect(events.map((e) => [e.type, e.sequence])).toEqual([
    ['order.created', 1],
    ['order.cancelled', 2],
    ['order.refund_required', 3],
  ]);
  // B committed the refund at once, but it went out only after the cancel, once the dead process's claim lapsed.
  expect(events[1]!.receivedAt).toBeGreaterThanOrEqual(claimedUntil - 50);
  expect(events[2]!.receivedAt).toBeGreaterThanOrEqual(events[1]!.receivedAt);
});

test("when two processes apply one order's transitions back to back, then every order's events arrive in commit order", async () => {
  const ORDERS = 60;
  const ids = await Promise.all(
    Array.from({ length: ORDERS }, async (_, i) => {
      // Each step on the other process, right after the previous one answered.
      const [first, second] = i % 2 ? [a, b] : [b, a];
      const order = (
        await call(first, 'POST', '/orders', { customerId: `c${i}`, items: [{ productId: product, quantity: 1 }] })
      ).body;
      const paid = await call(second, 'POST', `/orders/${order.id}/pay`, {
        paymentRef: `p-${order.id}`,
        amountCents: order.totalCents,
      });
      expect(paid.status).toBe(200);
      expect((await call(first, 'POST', `/orders/${order.id}/ship`)).status).toBe(200);
      expect((await call(second, 'POST', `/orders/${order.id}/complete`)).status).toBe(200);
      return order.id;
    }),
  );
  await consumer.waitFor(
    (received) => ids.every((id) => new Set(received.filter((e) => e.orderId === id).map((e) => e.id)).size === 4),
    'four events per order',
    30_000,
  );
  const mine = consumer.received.filter((e) => ids.includes(e.orderId));
  expect(sequenceProblems(firstCopies(mine))).toEqual([]);
  for (const id of ids)
    expect(firstCopies(consumer.of(id)).map((e) => e.type)).toEqual([
      'order.created',
      'order.paid',
      'order.shipped',
      'order.completed',
    ]);
}, 60_000);
