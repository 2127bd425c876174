import { consumeEvents, type EventConsumer } from '../support/events';
import { expireInDb, makeOrder, makeProduct, metricValue, waitForStatus } from '../support/fixtures';
import { pay } from '../support/payments';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
let consumer: EventConsumer;
let product: string;
beforeAll(async () => {
  svc = await startTestService({
    orderPaymentTimeouts: { default: '15m', short: '1s' },
    outbox: { relayInterval: '200ms' },
  });
  product = (await makeProduct(svc, { stock: 1000 })).id;
});
afterAll(async () => {
  await consumer?.close();
  await svc?.destroy();
});

const unsentEvents = async () =>
  Number((await svc.db('outbox').whereNotNull('sequence').whereNull('sent_at').count({ n: '*' }).first())?.n ?? 0);

test('when no queue is bound to order.events, then events are still sent (unroutable is normal, not a failure)', async () => {
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  await eventually(
    async () => (await svc.db('outbox').where({ order_id: order.id }).whereNull('sent_at')).length === 0,
    10_000,
    'the order outbox rows to be sent',
  );
  const row = await svc.db('outbox').where({ order_id: order.id, kind: 'order.created' }).first();
  expect(row).toMatchObject({ sequence: 1, attempts: 0, last_error: null });
  consumer = await consumeEvents(svc.config.amqp.url);
});

test('when an order is created, paid, shipped and completed, then each step publishes exactly one event with the CloudEvents headers and the order as GET shows it', async () => {
  const bodies: unknown[] = [];
  const order = await makeOrder(svc, [{ productId: product, quantity: 2 }]);
  bodies.push((await svc.api('GET', `/orders/${order.id}`)).body);
  await consumer.waitFor(() => consumer.of(order.id).length === 1, 'the created event');
  expect((await pay(svc, order.id, `ref-${order.id}`)).status).toBe(200);
  bodies.push((await svc.api('GET', `/orders/${order.id}`)).body);
  for (const step of ['ship', 'complete']) {
    expect((await svc.api('POST', `/orders/${order.id}/${step}`)).status).toBe(200);
    bodies.push((await svc.api('GET', `/orders/${order.id}`)).body);
  }
  await consumer.waitFor(() => consumer.of(order.id).length >= 4, 'four events');
  await eventually(async () => (await unsentEvents()) === 0, 5_000, 'every event row sent');
  const events = consumer.of(order.id);
  expect(events.map((e) => e.type)).toEqual(['order.created', 'order.paid', 'order.shipped', 'order.completed']);
  expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
  expect(events.map((e) => e.body)).toEqual(bodies);
  for (const e of events) {
    expect(e.headers).toEqual({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      cloudEvents_source: 'order-timeout',
      cloudEvents_type: e.type,
      cloudEvents_subject: order.id,
      cloudEvents_time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      cloudEvents_sequence: String(e.sequence).padStart(10, '0'),
    });
    expect(e.properties).toMatchObject({ messageId: e.id, contentType: 'application/json', deliveryMode: 2 });
  }
  expect(new Set(events.map((e) => e.id)).size).toBe(4);
  // The event's time is the transition's: the order's own stamps.
  expect(events[1]!.headers.cloudEvents_time).toBe(events[1]!.body.paidAt);
  expect(events[3]!.headers.cloudEvents_time).toBe(events[3]!.body.completedAt);
  expect(await metricValue(svc, 'order_timeout_events_published_total', { type: 'order.paid' })).toBeGreaterThan(0);
});

test('when an order is cancelled, then one order.cancelled event carries it CANCELLED; a payment after that publishes order.refund_required', async () => {
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  expect((await svc.api('POST', `/orders/${order.id}/cancel`)).status).toBe(200);
  expect((await pay(svc, order.id, `late-${order.id}`)).status).toBe(202);
  await consumer.waitFor(() => consumer.of(order.id).length >= 3, 'three events');
  const events = consumer.of(order.id);
  expect(events.map((e) => [e.type, e.sequence, e.body.status])).toEqual([
    ['order.created', 1, 'PENDING_PAYMENT'],
    ['order.cancelled', 2, 'CANCELLED'],
    ['order.refund_required', 3, 'CANCELLED'],
  ]);
  expect(events[1]!.body).toEqual((await svc.api('GET', `/orders/${order.id}`)).body);
});

test('when the payment window runs out, then the closer publishes order.closed; a late payment then publishes order.revived', async () => {
  const short = (await makeProduct(svc, { category: 'short', stock: 10 })).id;
  const order = await makeOrder(svc, [{ productId: short, quantity: 1 }]);
  await waitForStatus(svc, order.id, 'CLOSED');
  await consumer.waitFor(() => consumer.of(order.id).length >= 2, 'the closed event');
  const closed = consumer.of(order.id)[1]!;
  expect(closed).toMatchObject({ type: 'order.closed', sequence: 2, body: { status: 'CLOSED' } });
  expect(closed.body.closedAt).toBe(closed.headers.cloudEvents_time);
  expect((await pay(svc, order.id, `revive-${order.id}`)).status).toBe(200);
  await consumer.waitFor(() => consumer.of(order.id).length >= 3, 'the revived event');
  expect(consumer.of(order.id)[2]).toMatchObject({ type: 'order.revived', sequence: 3, body: { status: 'PAID' } });
});

test('when a batch of orders closes in one transaction (the sweeper), then each gets exactly one order.closed', async () => {
  const orders = await Promise.all(
    Array.from({ length: 20 }, () => makeOrder(svc, [{ productId: product, quantity: 1 }])),
  );
  await Promise.all(orders.map((o) => expireInDb(svc, o.id, 60_000)));
  expect((await svc.api('POST', `/orders/${orders[0]!.id}/cancel`)).status).toBe(409); // closes that one on read
  const { sweepOverdueOrders } = await import('../../src/jobs/sweeper');
  await sweepOverdueOrders({
    db: svc.db,
    now: () => new Date(),
    graceMs: 0,
    batchSize: 500,
    events: svc.useCases.events,
  });
  await consumer.waitFor(
    () => orders.every((o) => consumer.of(o.id).some((e) => e.type === 'order.closed')),
    'every closed event',
  );
  await eventually(async () => (await unsentEvents()) === 0, 5_000, 'every event row sent');
  for (const o of orders) expect(consumer.of(o.id).map((e) => e.type)).toEqual(['order.created', 'order.closed']);
});

test('when an event row is published again (its confirm was lost), then the copy carries the same id and message_id', async () => {
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  await consumer.waitFor(() => consumer.of(order.id).length === 1, 'the created event');
  // What a process that published but died before recording the confirm leaves behind: the row unsent, unclaimed.
  await svc
    .db('outbox')
    .where({ order_id: order.id, kind: 'order.created' })
    .update({ sent_at: null, claimed_until: null });
  await consumer.waitFor(() => consumer.of(order.id).length === 2, 'the copy');
  const [first, copy] = consumer.of(order.id);
  expect(copy!.id).toBe(first!.id);
  expect(copy!.properties.messageId).toBe(first!.properties.messageId);
  expect(copy!.headers).toEqual(first!.headers);
  expect(copy!.body).toEqual(first!.body);
});

test('when events are off (events.enabled false), then orders write no event rows and still close on time', async () => {
  const off = await startTestService({ orderPaymentTimeouts: { default: '1s' }, events: { enabled: false } });
  try {
    const p = (await makeProduct(off, { stock: 5 })).id;
    const order = await makeOrder(off, [{ productId: p, quantity: 1 }]);
    await waitForStatus(off, order.id, 'CLOSED');
    expect(await off.db('outbox').whereNotNull('sequence')).toEqual([]);
    expect(await off.db('outbox').where({ order_id: order.id }).pluck('kind')).toEqual(['order.timeout']);
  } finally {
    await off.destroy();
  }
});
