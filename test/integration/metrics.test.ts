import { TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { publishRaw } from '../support/amqp';
import { makeOrder, makeProduct, metricValue, waitForStatus } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { pay } from '../support/payments';

let svc: TestService;
const orderIds = new Set<string>();

beforeAll(async () => {
  svc = await startTestService({
    delayLevels: '1s,2s,5s',
    orderPaymentTimeouts: { default: '15m', flash: '1s', twosec: '2s' },
    // Often, so an overdue order nobody scheduled is swept within the test; the grace keeps it off the closer's orders.
    sweeper: { interval: '250ms', grace: '10s' },
  });
  // Long, distinctive ids, so a label that carries one cannot pass for a bucket bound or a status code.
  await svc.db.raw('ALTER TABLE orders AUTO_INCREMENT = 7300001');
});
afterAll(async () => svc?.destroy());

const scrape = async () => {
  const res = await fetch(`${svc.baseUrl}/metrics`);
  return { status: res.status, text: await res.text() };
};
const order = async (productId: string) => {
  const o = await makeOrder(svc, [{ productId: productId, quantity: 1 }]);
  orderIds.add(String(o.id));
  return o;
};

/** Every label of every sample: name, label name, label value. */
function labelsOf(text: string): { metric: string; label: string; value: string }[] {
  const out: { metric: string; label: string; value: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} /.exec(line);
    if (!m) continue;
    for (const l of m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      out.push({ metric: m[1]!, label: l[1]!, value: l[2]! });
  }
  return out;
}

describe('order counters', () => {
  test('when orders are created, paid and left to time out, then the created, paid and closed counters move by category and source, and lateness is observed', async () => {
    const flash = (await makeProduct(svc, { category: 'flash', stock: 10 })).id;
    const books = (await makeProduct(svc, { category: 'books', stock: 10 })).id;
    const before = {
      createdFlash: await metricValue(svc, 'order_timeout_orders_created_total', { category: 'flash' }),
      createdBooks: await metricValue(svc, 'order_timeout_orders_created_total', { category: 'books' }),
      paidBooks: await metricValue(svc, 'order_timeout_orders_paid_total', { category: 'books' }),
      closedFlash: await metricValue(svc, 'order_timeout_orders_closed_total', {
        source: 'timeout',
        category: 'flash',
      }),
      latenessFlash: await metricValue(svc, 'order_timeout_close_lateness_seconds_count', {
        source: 'timeout',
        category: 'flash',
      }),
    };

    const timedOut = [await order(flash), await order(flash)];
    const paid = await order(books);
    expect(timedOut.map((o) => o.category)).toEqual(['flash', 'flash']);
    expect(paid.category).toBe('books');
    expect((await pay(svc, paid.id, `pay-1-${paid.id}`)).status).toBe(200);
    // Paying again with the same ref is a no-op: it must not count twice.
    expect((await pay(svc, paid.id, `pay-1-${paid.id}`)).status).toBe(200);
    for (const o of timedOut) await waitForStatus(svc, o.id, 'CLOSED', 10_000);

    await eventually(
      async () =>
        (await metricValue(svc, 'order_timeout_orders_closed_total', { source: 'timeout', category: 'flash' })) >=
        before.closedFlash + 2,
      5_000,
      'the closes to be counted',
    );
    expect(await metricValue(svc, 'order_timeout_orders_created_total', { category: 'flash' })).toBe(
      before.createdFlash + 2,
    );
    expect(await metricValue(svc, 'order_timeout_orders_created_total', { category: 'books' })).toBe(
      before.createdBooks + 1,
    );
    expect(await metricValue(svc, 'order_timeout_orders_paid_total', { category: 'books' })).toBe(before.paidBooks + 1);
    expect(await metricValue(svc, 'order_timeout_orders_closed_total', { source: 'timeout', category: 'flash' })).toBe(
      before.closedFlash + 2,
    );
    expect(
      await metricValue(svc, 'order_timeout_close_lateness_seconds_count', { source: 'timeout', category: 'flash' }),
    ).toBe(before.latenessFlash + 2);
    // Closed on time, so they sit in the under-a-minute bucket too.
    expect(
      await metricValue(svc, 'order_timeout_close_lateness_seconds_bucket', {
        le: '60',
        source: 'timeout',
        category: 'flash',
      }),
    ).toBe(before.latenessFlash + 2);
    expect(await metricValue(svc, 'order_timeout_closer_batch_size_count')).toBeGreaterThan(0);
    expect(await metricValue(svc, 'order_timeout_closer_transaction_seconds_count')).toBeGreaterThan(0);
  });

  test('when an idempotent POST /orders is replayed, then the order is counted as created once', async () => {
    const books = (await makeProduct(svc, { category: 'replayed' })).id;
    const body = { customerId: 'c', items: [{ productId: books, quantity: 1 }] };
    const first = await svc.api('POST', '/orders', body, { 'Idempotency-Key': 'metrics-replay' });
    const again = await svc.api('POST', '/orders', body, { 'Idempotency-Key': 'metrics-replay' });
    orderIds.add(first.body.id);
    expect([first.status, again.status, again.headers.get('idempotent-replayed')]).toEqual([201, 201, 'true']);
    expect(await metricValue(svc, 'order_timeout_orders_created_total', { category: 'replayed' })).toBe(1);
  });

  test('when reading an overdue order closes it, then it is counted with source read and its category', async () => {
    const product = (await makeProduct(svc, { category: 'readers' })).id;
    const o = await order(product);
    await svc
      .db('orders')
      .where({ id: o.id })
      .update({ expires_at: new Date(Date.now() - 1_000) });
    const res = await svc.api('GET', `/orders/${o.id}`);
    expect(res.body.status).toBe('CLOSED');
    expect(await metricValue(svc, 'order_timeout_orders_closed_total', { source: 'read', category: 'readers' })).toBe(
      1,
    );
    expect(
      await metricValue(svc, 'order_timeout_close_lateness_seconds_count', { source: 'read', category: 'readers' }),
    ).toBe(1);
  });

  test('when the sweeper closes an overdue order that no message scheduled, then it is counted with source sweeper and its category', async () => {
    // Written straight to the database, without an outbox row: only the sweeper can close it.
    const now = new Date();
    const [productId] = await svc.db('products').insert({
      sku: 'swept-1',
      name: 'p',
      category: 'swept',
      price_cents: 1,
      stock: 0,
      stock_received: 1,
      created_at: now,
      updated_at: now,
    });
    const [id] = await svc.db('orders').insert({
      customer_id: 'c',
      status: 'PENDING_PAYMENT',
      category: 'swept',
      total_cents: 1,
      expires_at: new Date(now.getTime() - 60_000),
      created_at: new Date(now.getTime() - 120_000),
      updated_at: now,
    });
    orderIds.add(String(id));
    await svc.db('order_items').insert({ order_id: id, product_id: productId, quantity: 1, unit_price_cents: 1 });
    await waitForStatus(svc, String(id), 'CLOSED', 10_000);
    await eventually(
      async () =>
        (await metricValue(svc, 'order_timeout_orders_closed_total', { source: 'sweeper', category: 'swept' })) === 1,
      5_000,
      'the sweep to be counted',
    );
    // About a minute late: above the 15 s bucket, within the 60 s one (or 300 s on a slow machine).
    expect(
      await metricValue(svc, 'order_timeout_close_lateness_seconds_bucket', {
        le: '15',
        source: 'sweeper',
        category: 'swept',
      }),
    ).toBe(0);
    expect(
      await metricValue(svc, 'order_timeout_close_lateness_seconds_bucket', {
        le: '300',
        source: 'sweeper',
        category: 'swept',
      }),
    ).toBe(1);
  });
});

describe('closer metrics', () => {
  test('when a message is not a timeout message, then it is counted as parked with reason invalid', async () => {
    const before = await metricValue(svc, 'order_timeout_messages_parked_total', { reason: 'invalid' });
    await publishRaw(svc.config.amqp.url, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY, 'not json', {
      messageId: 'metrics-junk',
      contentType: 'application/json',
    });
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_messages_parked_total', { reason: 'invalid' })) === before + 1,
      10_000,
      'the message to be parked',
    );
  });

  test("when a paid order's timeout arrives, then it is counted as skipped with the order's status", async () => {
    const twosec = (await makeProduct(svc, { category: 'twosec' })).id;
    const before = await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' });
    const o = await order(twosec);
    expect((await pay(svc, o.id, `p-${o.id}`)).status).toBe(200);
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_timeouts_skipped_total', { status: 'PAID' })) > before,
      10_000,
      'the timeout to be skipped',
    );
  });
});

describe('outbox backlog gauges', () => {
  test('when an outbox row waits unsent, then the waiting gauge counts it and the oldest-age gauge shows its age', async () => {
    const { text } = await scrape();
    expect(text).toMatch(/^# TYPE order_timeout_outbox_waiting gauge$/m);
    expect(text).toMatch(/^order_timeout_outbox_waiting \d+$/m);
    expect(text).toMatch(/^order_timeout_outbox_oldest_age_seconds [\d.e+-]+$/m);

    // Claimed by another (live) process for an hour, so the relay leaves it alone while we look.
    const createdAt = new Date(Date.now() - 120_000);
    const [id] = await svc.db('outbox').insert({
      message_id: 'metrics-waiting',
      kind: 'order.timeout',
      order_id: null,
      payload: '{}',
      created_at: createdAt,
      claimed_by: 'someone-else',
      claimed_until: new Date(Date.now() + 3_600_000),
    });
    try {
      expect(await metricValue(svc, 'order_timeout_outbox_waiting')).toBeGreaterThanOrEqual(1);
      expect(await metricValue(svc, 'order_timeout_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(120);
    } finally {
      await svc.db('outbox').where({ id }).del();
    }
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_outbox_waiting')) === 0,
      10_000,
      'the outbox to be empty',
    );
    expect(await metricValue(svc, 'order_timeout_outbox_oldest_age_seconds')).toBe(0);
  });

  test('when the outbox cannot be read, then /metrics still answers 200 with the last values and counts the miss', async () => {
    const before = await scrape();
    expect(before.status).toBe(200);
    const errorsBefore = await metricValue(svc, 'order_timeout_outbox_backlog_errors_total');
    await svc.db.raw('RENAME TABLE outbox TO outbox_hidden');
    let during: { status: number; text: string };
    try {
      during = await scrape();
    } finally {
      await svc.db.raw('RENAME TABLE outbox_hidden TO outbox');
    }
    expect(during.status).toBe(200);
    expect(during.text).toMatch(/^order_timeout_outbox_waiting \d+$/m);
    expect(during.text).toMatch(/^order_timeout_orders_created_total\{/m);
    expect(await metricValue(svc, 'order_timeout_outbox_backlog_errors_total')).toBe(errorsBefore + 1);
  });
});

describe('readiness and closer gauges', () => {
  test('when the broker and the database are up, then every dependency reads 1 and the closer has its consumer', async () => {
    await eventually(
      async () => (await metricValue(svc, 'order_timeout_closer_consumers')) === 1,
      10_000,
      'the closer to consume',
    );
    const { text } = await scrape();
    for (const dependency of ['broker', 'broker-topology', 'database'])
      expect(text).toContain(`order_timeout_ready{dependency="${dependency}"} 1`);
  });
});

describe('labels', () => {
  test('when /metrics is scraped after all of the above, then no label value is an order id and HTTP routes are patterns', async () => {
    const { text } = await scrape();
    const labels = labelsOf(text);
    expect(labels.length).toBeGreaterThan(0);
    expect(orderIds.size).toBeGreaterThan(5);
    expect([...orderIds].every((id) => Number(id) > 7_300_000)).toBe(true);
    const suspicious = labels.filter((l) => [...orderIds].some((id) => l.value.includes(id)));
    expect(suspicious).toEqual([]);
    const routes = new Set(labels.filter((l) => l.label === 'route').map((l) => l.value));
    expect(routes).toContain('/orders/:id');
    expect(routes).toContain('/orders/:id/pay');
    for (const r of routes) expect(r).not.toMatch(/\/\d/);
    const categories = new Set(
      labels
        .filter((l) => l.metric === 'order_timeout_orders_created_total' && l.label === 'category')
        .map((l) => l.value),
    );
    expect(categories).toEqual(new Set(['flash', 'books', 'replayed', 'readers', 'twosec']));
  });
});
