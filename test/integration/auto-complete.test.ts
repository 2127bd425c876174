import { randomUUID } from 'node:crypto';
import { TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { publishRaw } from '../support/amqp';
import { eventsOf, makeOrder, makeProduct, metricValue, waitForStatus } from '../support/fixtures';
import { pay } from '../support/payments';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

// AUTO_COMPLETE_AFTER=3s through the delay levels 1s, 2s, 5s: shipping schedules a timer that the closer applies as
// `complete` (source timeout). The sweeper runs every second with a 5 s grace, so it only takes timers whose message
// is lost, never one the closer is about to fire.
let svc: TestService;
const AFTER_MS = 3_000;

beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    autoCompleteAfter: '3s',
    sweeper: { interval: '1s', grace: '5s' },
  });
});
afterAll(async () => svc?.destroy());

/** A paid order, shipped through the API; returns the ship response's body. */
async function shippedOrder() {
  const product = await makeProduct(svc);
  const order = await makeOrder(svc, [{ productId: product.id, quantity: 1 }]);
  expect((await pay(svc, order.id, `pay-${order.id}`)).status).toBe(200);
  const shipped = await svc.api('POST', `/orders/${order.id}/ship`);
  expect(shipped.status).toBe(200);
  return shipped.body as { id: string; shippedAt: string; completeAt: string; status: string };
}

/** Publishes an auto-complete timer message for an order straight to the closer's queue. */
const publishTimer = (orderId: string, dueAt: Date, kind = 'auto-complete') =>
  publishRaw(
    svc.config.amqp.url,
    TIMEOUT_EXCHANGE,
    TIMEOUT_ROUTING_KEY,
    JSON.stringify({ orderId, expiresAt: dueAt.toISOString(), attempt: 0, kind }),
    { messageId: randomUUID(), contentType: 'application/json' },
  );

const completes = async (orderId: string) => (await eventsOf(svc, orderId)).filter((e) => e.event === 'complete');

describe('auto-complete', () => {
  test('when an order ships, then it completes by itself AUTO_COMPLETE_AFTER later, never earlier, source timeout', async () => {
    const shipped = await shippedOrder();
    expect(Date.parse(shipped.completeAt) - Date.parse(shipped.shippedAt)).toBe(AFTER_MS);
    const row = await waitForStatus(svc, shipped.id, 'COMPLETED', 15_000);
    const completedAt = (row as unknown as { completed_at: Date }).completed_at;
    expect(completedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(shipped.completeAt));
    expect(await completes(shipped.id)).toEqual([
      { event: 'complete', from: 'SHIPPED', to: 'COMPLETED', source: 'timeout', at: completedAt.toISOString() },
    ]);
    expect(await metricValue(svc, 'order_timeout_timers_fired_total', { kind: 'auto-complete' })).toBeGreaterThan(0);
  });

  test('when an auto-complete timer arrives before the order is due, then it is sent on and the order stays SHIPPED', async () => {
    const shipped = await shippedOrder();
    // The deadline on the order is what counts, whatever the message says.
    await svc
      .db('orders')
      .where({ id: shipped.id })
      .update({ complete_at: new Date(Date.now() + 3_600_000) });
    const early = await metricValue(svc, 'order_timeout_timeouts_rescheduled_total', { why: 'early' });
    await publishTimer(shipped.id, new Date());
    // Both the forged message (at once) and the order's own timer (due when it shipped + 3 s) have come and gone.
    await eventually(
      async () =>
        Date.now() > Date.parse(shipped.completeAt) + 1_000 &&
        (await metricValue(svc, 'order_timeout_timeouts_rescheduled_total', { why: 'early' })) > early,
      10_000,
      'the early timers to be sent on',
    );
    expect((await svc.db('orders').where({ id: shipped.id }).first()).status).toBe('SHIPPED');
    expect(await completes(shipped.id)).toEqual([]);
  });

  test('when an auto-complete timer comes again for a completed order, then nothing changes', async () => {
    const shipped = await shippedOrder();
    await waitForStatus(svc, shipped.id, 'COMPLETED', 15_000);
    const before = await svc.db('orders').where({ id: shipped.id }).first();
    const skipped = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'COMPLETED' });
    await publishTimer(shipped.id, new Date(Date.parse(shipped.completeAt)));
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'COMPLETED' })) > skipped,
      10_000,
      'the duplicate to be skipped',
    );
    expect(await svc.db('orders').where({ id: shipped.id }).first()).toEqual(before);
    expect(await completes(shipped.id)).toHaveLength(1);
  });

  test('when an order was completed by hand before its timer, then the timer leaves it untouched', async () => {
    const shipped = await shippedOrder();
    const skipped = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'COMPLETED' });
    const byHand = await svc.api('POST', `/orders/${shipped.id}/complete`);
    expect(byHand.status).toBe(200);
    // Its own timer comes AUTO_COMPLETE_AFTER after shipping and is skipped.
    await eventually(
      async () =>
        Date.now() > Date.parse(shipped.completeAt) + 1_000 &&
        (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'COMPLETED' })) > skipped,
      15_000,
      'the timer to be skipped',
    );
    const row = await svc.db('orders').where({ id: shipped.id }).first();
    expect(row.completed_at.toISOString()).toBe(byHand.body.completedAt);
    expect(await completes(shipped.id)).toEqual([expect.objectContaining({ source: 'http' })]);
  });

  test('when a message names a timer kind this version does not know, then it is parked with the reason', async () => {
    const shipped = await shippedOrder();
    const parked = await metricValue(svc, 'order_timeout_messages_parked_total', { reason: 'invalid' });
    await publishTimer(shipped.id, new Date(), 'no-such-timer');
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_messages_parked_total', { reason: 'invalid' })) > parked,
      10_000,
      'the message to be parked',
    );
  });

  test('when an auto-complete message was lost, then the sweeper completes the order (source sweeper) and warns', async () => {
    const product = await makeProduct(svc);
    const order = await makeOrder(svc, [{ productId: product.id, quantity: 1 }]);
    // Shipped long ago, its message gone: only the order row says it is due.
    const past = new Date(Date.now() - 60_000);
    await svc
      .db('orders')
      .where({ id: order.id })
      .update({
        status: 'SHIPPED',
        paid_at: past,
        shipped_at: past,
        complete_at: new Date(Date.now() - 10_000),
        expires_at: new Date(Date.now() + 3_600_000),
      });
    await waitForStatus(svc, order.id, 'COMPLETED', 10_000);
    expect(await completes(order.id)).toEqual([expect.objectContaining({ from: 'SHIPPED', source: 'sweeper' })]);
    expect(
      await metricValue(svc, 'order_timeout_timers_fired_total', { kind: 'auto-complete', source: 'sweeper' }),
    ).toBe(1);
  });
});
