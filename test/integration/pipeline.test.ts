import { PARKED_QUEUE, TIMEOUT_EXCHANGE, TIMEOUT_QUEUE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { drainQueue, publishRaw } from '../support/amqp';
import {
  makeOrder,
  makeProduct,
  metricValue,
  orderRow,
  stockOf,
  timeoutEvents,
  waitForStatus,
} from '../support/fixtures';
import { eventually, management, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { pay } from '../support/payments';

let svc: TestService;

beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    orderPaymentTimeouts: { default: '15m', twosec: '2s', hops: '3500ms', short: '1s', race: '8s' },
  });
});
afterAll(async () => svc?.destroy());

const publishTimeout = (body: string | Buffer, messageId = `test-${Math.random()}`) =>
  publishRaw(svc.config.amqp.url, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY, body, {
    messageId,
    contentType: 'application/json',
  });

describe('closing on time', () => {
  test('when a 2 s order is left unpaid, then it closes within 1 s after its deadline and never before, and its stock comes back', async () => {
    const product = (await makeProduct(svc, { category: 'twosec', stock: 10 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 3 }]);
    expect(await stockOf(svc, product)).toBe(7);

    const expiresAt = new Date(order.expiresAt).getTime();
    // Watch the row until it closes: it must still be pending whenever we look before the deadline.
    for (;;) {
      const row = await orderRow(svc, order.id);
      if (row.status !== 'PENDING_PAYMENT') break;
      await sleep(20);
    }
    const row = await orderRow(svc, order.id);
    expect(row.status).toBe('CLOSED');
    const lateness = row.closed_at!.getTime() - expiresAt;
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1000);
    expect(await stockOf(svc, product)).toBe(10);
    const events = (await svc.api('GET', `/orders/${order.id}/events`)).body;
    expect(events.map((e: { event: string; source: string }) => `${e.event}/${e.source}`)).toEqual([
      'create/http',
      'timeout/timeout',
    ]);
  });

  test('when an order has a 3.5 s window, which is no delay level, then it reaches its deadline by hops and closes on time', async () => {
    const product = (await makeProduct(svc, { category: 'hops' })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
    const row = await waitForStatus(svc, order.id, 'CLOSED', 10_000);
    const lateness = row.closed_at!.getTime() - new Date(order.expiresAt).getTime();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1000);
  });
});

describe('orders that moved on', () => {
  test("when a paid order's timeout arrives, then it stays paid and stock is untouched", async () => {
    const product = (await makeProduct(svc, { category: 'short', stock: 5 })).id;
    const skippedBefore = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' });
    const order = await makeOrder(svc, [{ productId: product, quantity: 2 }]);
    expect((await pay(svc, order.id, `pay-1-${order.id}`)).status).toBe(200);

    await eventually(
      async () => (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' })) > skippedBefore,
      10_000,
      'the timeout to be skipped',
    );
    expect((await orderRow(svc, order.id)).status).toBe('PAID');
    expect(await stockOf(svc, product)).toBe(3);
    expect(await timeoutEvents(svc, order.id)).toBe(0);
  });

  test("when a cancelled order's timeout arrives, then it stays cancelled and stock is given back only once", async () => {
    const product = (await makeProduct(svc, { category: 'short', stock: 5 })).id;
    const skippedBefore = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CANCELLED' });
    const order = await makeOrder(svc, [{ productId: product, quantity: 2 }]);
    expect((await svc.api('POST', `/orders/${order.id}/cancel`)).status).toBe(200);
    expect(await stockOf(svc, product)).toBe(5);

    await eventually(
      async () =>
        (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CANCELLED' })) > skippedBefore,
      10_000,
      'the timeout to be skipped',
    );
    expect((await orderRow(svc, order.id)).status).toBe('CANCELLED');
    expect(await stockOf(svc, product)).toBe(5);
  });
});

describe('duplicates', () => {
  test('when the same timeout is delivered three times more, then the order is restocked once', async () => {
    const product = (await makeProduct(svc, { category: 'short', stock: 10 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 4 }]);
    const body = JSON.stringify({ orderId: order.id, expiresAt: order.expiresAt, attempt: 0 });
    const skippedBefore = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CLOSED' });
    // Three extra copies arrive before the deadline: the closer holds them, then all fall due together.
    await Promise.all([publishTimeout(body, 'dup-a'), publishTimeout(body, 'dup-b'), publishTimeout(body, 'dup-c')]);

    await waitForStatus(svc, order.id, 'CLOSED');
    await eventually(
      async () =>
        (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CLOSED' })) >= skippedBefore + 3,
      10_000,
      'all four deliveries to be handled',
    );
    expect(await stockOf(svc, product)).toBe(10);
    expect(await timeoutEvents(svc, order.id)).toBe(1);
  });
});

describe('messages from publishers in other languages', () => {
  test('when a timeout names the order as a JSON number, leaves out attempt or starts with a UTF-8 BOM, then the closer handles it like its own message and parks nothing', async () => {
    const product = (await makeProduct(svc, { category: 'short', stock: 10 })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 2 }]);
    await waitForStatus(svc, order.id, 'CLOSED');
    const skippedBefore = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CLOSED' });

    // What Python's json.dumps / pika send for the same timeout: each copy is understood, finds the order closed,
    // and is skipped; a copy the closer could not read would be parked instead.
    const asNumber = JSON.stringify({ orderId: Number(order.id), expiresAt: order.expiresAt, attempt: 0 });
    const noAttempt = JSON.stringify({ orderId: order.id, expiresAt: order.expiresAt });
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(noAttempt)]);
    await publishTimeout(asNumber, 'pika-number');
    await publishTimeout(noAttempt, 'pika-no-attempt');
    await publishTimeout(withBom, 'pika-bom');

    await eventually(
      async () =>
        (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'CLOSED' })) >= skippedBefore + 3,
      10_000,
      'all three copies to be skipped as already closed',
    );
    const parked = await drainQueue(svc.config.amqp.url, PARKED_QUEUE);
    expect(parked.map((m) => m.properties.messageId)).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/^pika-/)]),
    );
    expect(await stockOf(svc, product)).toBe(10);
    expect(await timeoutEvents(svc, order.id)).toBe(1);
  });
});

describe('poison messages', () => {
  test('when messages are not JSON, lack an orderId or name an unknown order, then they are parked with a reason and other orders still close', async () => {
    await publishTimeout('this is not json', 'poison-not-json');
    await publishTimeout(JSON.stringify({ expiresAt: new Date().toISOString(), attempt: 0 }), 'poison-no-order');
    await publishTimeout(
      JSON.stringify({ orderId: '999999999', expiresAt: new Date().toISOString(), attempt: 0 }),
      'poison-unknown',
    );
    await publishTimeout(JSON.stringify({ orderId: 12, expiresAt: 'yesterday', attempt: -1 }), 'poison-types');

    const product = (await makeProduct(svc, { category: 'short' })).id;
    const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
    await waitForStatus(svc, order.id, 'CLOSED');

    const parked = await eventually(
      async () => {
        const all = await drainQueue(svc.config.amqp.url, PARKED_QUEUE);
        return all.length >= 4 ? all : undefined;
      },
      10_000,
      'four parked messages',
    );
    const reasons = Object.fromEntries(
      parked.map((m) => [m.properties.messageId, String(m.properties.headers?.['x-park-reason'])]),
    );
    expect(reasons['poison-not-json']).toMatch(/not JSON/);
    expect(reasons['poison-no-order']).toMatch(/orderId/);
    expect(reasons['poison-unknown']).toMatch(/unknown order 999999999/);
    expect(reasons['poison-types']).toMatch(/orderId|expiresAt|attempt/);
    for (const m of parked) {
      expect(Date.parse(String(m.properties.headers?.['x-parked-at']))).not.toBeNaN();
    }
    expect(parked.find((m) => m.properties.messageId === 'poison-not-json')!.content.toString()).toBe(
      'this is not json',
    );
  });
});

describe('racing pay against the timeout', () => {
  test('when pay and the timeout race on 200 orders, then exactly one wins each time and stock is conserved', async () => {
    // An 8 s window leaves time to create all 200 before the first deadline, even on a busy machine.
    const product = (await makeProduct(svc, { category: 'race', stock: 1000 })).id;
    const orders = await Promise.all(
      Array.from({ length: 200 }, () => makeOrder(svc, [{ productId: product, quantity: 1 }])),
    );
    expect(Date.now()).toBeLessThan(Math.min(...orders.map((o) => Date.parse(o.expiresAt))));
    expect(await stockOf(svc, product)).toBe(800);

    // Each pay lands within ±40 ms of its order's deadline, so both sides win some.
    const results = await Promise.all(
      orders.map(async (o, i) => {
        const at = new Date(o.expiresAt).getTime() + ((i % 9) - 4) * 10;
        await sleep(Math.max(0, at - Date.now()));
        return (await pay(svc, o.id, `race-${i}`)).status;
      }),
    );
    expect(results.every((s) => s === 200 || s === 409)).toBe(true);

    const rows = await eventually(
      async () => {
        const all = await svc.db('orders').whereIn(
          'id',
          orders.map((o) => o.id),
        );
        return all.every((r: { status: string }) => r.status !== 'PENDING_PAYMENT') ? all : undefined;
      },
      15_000,
      'every raced order to settle',
    );
    const paid = rows.filter((r: { status: string }) => r.status === 'PAID').map((r: { id: number }) => String(r.id));
    const closed = rows.filter((r: { status: string }) => r.status === 'CLOSED');
    expect(paid.length + closed.length).toBe(200);
    // A 200 from pay means PAID; a 409 means it lost to the timeout.
    orders.forEach((o, i) => expect(results[i] === 200).toBe(paid.includes(o.id)));
    expect(await stockOf(svc, product)).toBe(1000 - paid.length);
    const terminal = await svc
      .db('order_events')
      .whereIn(
        'order_id',
        orders.map((o) => o.id),
      )
      .whereIn('event', ['pay', 'timeout']);
    expect(terminal.length).toBe(200);
  });
});

describe('the sweeper', () => {
  test('when a pending order is overdue and its message was lost, then the sweeper closes it with source sweeper', async () => {
    const sweeping = await startTestService({ sweeper: { interval: '300ms', grace: '200ms' } });
    try {
      const product = (await makeProduct(sweeping, { stock: 5 })).id;
      const now = new Date();
      // Written straight into the database: no outbox row, so no timeout message will ever come. One transaction, so
      // the sweeper (every 300 ms) never sees the order without its items.
      const id = await sweeping.db.transaction(async (trx) => {
        const [orderId] = await trx('orders').insert({
          customer_id: 'c',
          status: 'PENDING_PAYMENT',
          total_cents: 0,
          expires_at: new Date(now.getTime() - 1000),
          created_at: now,
          updated_at: now,
        });
        await trx('order_items').insert({ order_id: orderId, product_id: product, quantity: 2, unit_price_cents: 0 });
        await trx('products').where({ id: product }).decrement('stock', 2);
        return orderId;
      });

      await waitForStatus(sweeping, String(id), 'CLOSED', 10_000);
      const events = await sweeping.db('order_events').where({ order_id: id });
      expect(events.map((e: { source: string }) => e.source)).toEqual(['sweeper']);
      expect(await stockOf(sweeping, product)).toBe(5);
    } finally {
      await sweeping.destroy();
    }
  });
});

test('when the closer consumes order.timeout, then its consumer has the configured prefetch, and nothing is left unacknowledged once orders are closed', async () => {
  const product = (await makeProduct(svc, { category: 'short' })).id;
  const order = await makeOrder(svc, [{ productId: product, quantity: 1 }]);
  await waitForStatus(svc, order.id, 'CLOSED');
  // What the broker applies: the consumer's prefetch_count (basic.qos on the closer's channel).
  const closers = await eventually(
    async () => {
      const all = ((await management(`/consumers/${encodeURIComponent(svc.vhost)}`)) ?? []) as {
        queue: { name: string };
        prefetch_count: number;
      }[];
      const found = all.filter((c) => c.queue.name === TIMEOUT_QUEUE);
      return found.length > 0 ? found : undefined;
    },
    15_000,
    'the closer in the management API',
  );
  expect(closers.map((c) => c.prefetch_count)).toEqual([svc.config.closer.prefetch]);
  await eventually(
    async () => {
      const q = (await management(`/queues/${encodeURIComponent(svc.vhost)}/${TIMEOUT_QUEUE}`)) as
        { messages?: number; consumers?: number } | undefined;
      return q?.consumers === 1 && q.messages === 0 ? true : undefined;
    },
    15_000,
    'order.timeout to be empty with one consumer',
  );
});
