import { randomUUID } from 'node:crypto';
import { fireDueTimers } from '../../src/db/order-transitions';
import { timerKind } from '../../src/domain/timer-kinds';
import { sweepDueTimers } from '../../src/jobs/sweeper';
import { TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { publishRaw } from '../support/amqp';
import { consumeEvents, type EventConsumer } from '../support/events';
import { eventsOf, makeOrder, makeProduct, metricValue } from '../support/fixtures';
import { pay } from '../support/payments';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

// Contract §9, the payment reminder: `fresh` orders have a 4 s window and a 2 s reminder (due 2 s after creation),
// `books` orders the default 4 s window and no reminder, `long` orders a 1 h window and no reminder (the tests that
// forge a reminder's due time use them). Delay levels 1s, 2s, 5s. The sweeper runs every second with a 3 s grace:
// more than the 2 s between a fresh order's reminder and its deadline, so it never takes a reminder the closer is
// about to send, only a lost one (and never after the deadline).
let svc: TestService;
let consumer: EventConsumer;
const products: Record<string, string> = {};
const REMINDER_MS = 2_000;
const REMINDER = timerKind('payment-reminder');

beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    orderPaymentTimeouts: { default: '4s', fresh: '4s', long: '1h' },
    paymentReminders: { fresh: '2s' },
    sweeper: { interval: '1s', grace: '3s' },
    outbox: { relayInterval: '200ms' },
  });
  for (const category of ['fresh', 'books', 'long'])
    products[category] = (await makeProduct(svc, { category, stock: 1000 })).id;
  consumer = await consumeEvents(svc.config.amqp.url);
});
afterAll(async () => {
  await consumer?.close();
  await svc?.destroy();
});

const orderIn = (category: string) => makeOrder(svc, [{ productId: products[category]!, quantity: 1 }]);
const typesOf = (orderId: string) => consumer.of(orderId).map((e) => e.type);
const row = (orderId: string) => svc.db('orders').where({ id: orderId }).first();
/** Waits for the order's `order.closed` event: every event of the order before it has arrived too (commit order). */
const untilClosed = (orderId: string) =>
  consumer.waitFor(() => typesOf(orderId).includes('order.closed'), `order ${orderId} closed`, 20_000);

/** Publishes a payment-reminder message for an order straight to the closer's queue (a duplicate, a late copy). */
const publishReminder = (orderId: string, dueAt: Date) =>
  publishRaw(
    svc.config.amqp.url,
    TIMEOUT_EXCHANGE,
    TIMEOUT_ROUTING_KEY,
    JSON.stringify({ orderId, expiresAt: dueAt.toISOString(), attempt: 0, kind: REMINDER.name }),
    { messageId: randomUUID(), contentType: 'application/json' },
  );

/** A `long` order (no reminder, no reminder message) whose reminder is made due in the database `agoMs` ago. */
async function forgedReminder(agoMs: number, deadlineInMs: number) {
  const order = await orderIn('long');
  const now = Date.now();
  await svc
    .db('orders')
    .where({ id: order.id })
    .update({ remind_at: new Date(now - agoMs), expires_at: new Date(now + deadlineInMs) });
  return order;
}

test('when a pending order reaches its deadline less its reminder, then one order.expiring arrives within 1 s, then order.closed', async () => {
  const order = await orderIn('fresh');
  const remindAt = Date.parse(order.expiresAt) - REMINDER_MS;
  expect((await row(order.id)).remind_at.getTime()).toBe(remindAt);
  await consumer.waitFor(() => typesOf(order.id).includes('order.expiring'), 'the reminder', 10_000);
  const expiring = consumer.of(order.id).find((e) => e.type === 'order.expiring')!;
  expect(expiring.receivedAt - remindAt).toBeGreaterThanOrEqual(0);
  expect(expiring.receivedAt - remindAt).toBeLessThan(1_000);
  expect(Date.parse(String(expiring.headers.cloudEvents_time))).toBeGreaterThanOrEqual(remindAt);
  expect(expiring.body).toMatchObject({ id: order.id, status: 'PENDING_PAYMENT', expiresAt: order.expiresAt });
  expect(expiring.properties).toMatchObject({ messageId: expiring.id, contentType: 'application/json' });
  // Fired once: its due column is cleared, the order still pending and holding what it held.
  expect(await row(order.id)).toMatchObject({ status: 'PENDING_PAYMENT', remind_at: null });
  await untilClosed(order.id);
  expect(typesOf(order.id)).toEqual(['order.created', 'order.expiring', 'order.closed']);
  expect(consumer.of(order.id).map((e) => e.sequence)).toEqual([1, 2, 3]);
  expect((await eventsOf(svc, order.id)).map((e) => [e.event, e.from, e.to, e.source])).toEqual([
    ['create', null, 'PENDING_PAYMENT', 'http'],
    ['remind', 'PENDING_PAYMENT', 'PENDING_PAYMENT', 'timeout'],
    ['timeout', 'PENDING_PAYMENT', 'CLOSED', 'timeout'],
  ]);
  expect(await metricValue(svc, 'order_timeout_timers_fired_total', { kind: REMINDER.name, source: 'timeout' })).toBe(
    1,
  );
  expect(await metricValue(svc, 'order_timeout_events_published_total', { type: 'order.expiring' })).toBe(1);
});

test('when an order is paid before its reminder, then no order.expiring comes (its reminder message is skipped)', async () => {
  const order = await orderIn('fresh');
  const skipped = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' });
  expect((await pay(svc, order.id, `pay-${order.id}`)).status).toBe(200);
  await eventually(
    async () => (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' })) >= skipped + 2,
    15_000,
    'the reminder and the timeout of the paid order to be skipped',
  );
  expect(typesOf(order.id)).toEqual(['order.created', 'order.paid']);
  expect((await eventsOf(svc, order.id)).map((e) => e.event)).toEqual(['create', 'pay']);
});

test('when the order category has no reminder, then no reminder is scheduled and no order.expiring comes', async () => {
  const order = await orderIn('books');
  expect((await row(order.id)).remind_at).toBeNull();
  const timers = await svc.db('outbox').where({ order_id: order.id, kind: 'order.timeout' }).select('payload');
  expect(timers.map((t: { payload: string }) => JSON.parse(t.payload).kind)).toEqual(['payment-timeout']);
  await untilClosed(order.id);
  expect(typesOf(order.id)).toEqual(['order.created', 'order.closed']);
});

test('when a reminder message arrives after the deadline of a still pending order, then it is skipped: no order.expiring', async () => {
  // Due 2 s ago, deadline passed 100 ms ago, the order not closed yet (its own timeout is an hour away in the queues).
  const order = await forgedReminder(2_000, -100);
  const skipped = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PENDING_PAYMENT' });
  await publishReminder(order.id, new Date(Date.now() - 2_000));
  await eventually(
    async () =>
      (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PENDING_PAYMENT' })) > skipped,
    10_000,
    'the late reminder to be skipped',
  );
  expect((await row(order.id)).remind_at).not.toBeNull();
  // The sweeper closes it (its timeout message is far off) and never sends the reminder after the deadline.
  await untilClosed(order.id);
  expect(typesOf(order.id)).toEqual(['order.created', 'order.closed']);
});

test('when a reminder message comes again (duplicates before and after it fired), then one order.expiring', async () => {
  const order = await orderIn('fresh');
  const remindAt = new Date(Date.parse(order.expiresAt) - REMINDER_MS);
  // Two early copies travel with the order's own message; a third comes once it fired.
  await Promise.all([publishReminder(order.id, remindAt), publishReminder(order.id, remindAt)]);
  await consumer.waitFor(() => typesOf(order.id).includes('order.expiring'), 'the reminder', 10_000);
  const skipped = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PENDING_PAYMENT' });
  await publishReminder(order.id, remindAt);
  await eventually(
    async () =>
      (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PENDING_PAYMENT' })) > skipped,
    10_000,
    'the late duplicate to be skipped',
  );
  await untilClosed(order.id);
  expect(typesOf(order.id)).toEqual(['order.created', 'order.expiring', 'order.closed']);
  expect((await eventsOf(svc, order.id)).filter((e) => e.event === 'remind')).toHaveLength(1);
});

test('when a reminder message was lost, then the sweeper sends order.expiring before the deadline (source sweeper)', async () => {
  const before = await metricValue(svc, 'order_timeout_timers_fired_total', { kind: REMINDER.name, source: 'sweeper' });
  const order = await forgedReminder(5_000, 3_600_000);
  await consumer.waitFor(() => typesOf(order.id).includes('order.expiring'), 'the swept reminder', 10_000);
  expect(typesOf(order.id)).toEqual(['order.created', 'order.expiring']);
  expect(consumer.of(order.id)[1]!.body).toMatchObject({ status: 'PENDING_PAYMENT' });
  expect((await eventsOf(svc, order.id)).at(-1)).toMatchObject({ event: 'remind', source: 'sweeper' });
  expect(await metricValue(svc, 'order_timeout_timers_fired_total', { kind: REMINDER.name, source: 'sweeper' })).toBe(
    before + 1,
  );
});

test('when the sweeper and the closer fire the same reminder at once, then it fires once', async () => {
  // Due 1 s ago: within the service sweeper's 3 s grace, so only the two racers below can take it.
  const order = await forgedReminder(1_000, 3_600_000);
  const events = { owner: 'test', claimForMs: 0 };
  const now = () => new Date();
  const results = await Promise.all([
    fireDueTimers(svc.db, REMINDER, { orderIds: [order.id], source: 'timeout', now: now(), events }),
    sweepDueTimers({ db: svc.db, now, graceMs: 0, batchSize: 10, events }, REMINDER),
    fireDueTimers(svc.db, REMINDER, { orderIds: [order.id], source: 'timeout', now: now(), events }),
  ]);
  expect(results.flat().filter((f) => f.id === order.id)).toHaveLength(1);
  await consumer.waitFor(() => typesOf(order.id).includes('order.expiring'), 'the reminder', 10_000);
  expect((await eventsOf(svc, order.id)).filter((e) => e.event === 'remind')).toHaveLength(1);
  expect(await svc.db('outbox').where({ order_id: order.id, kind: 'order.expiring' })).toHaveLength(1);
});
