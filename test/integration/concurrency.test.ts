import { startTestService, type TestService } from '../support/service';
import { eventsOf, makeOrder, makeProduct, stockOf } from '../support/fixtures';
import { pay } from '../support/payments';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});

afterAll(async () => {
  await service?.destroy();
});

/** Samples the product's stock straight from the database until `done` resolves; returns every value seen. */
async function sampleStock(productId: string, done: Promise<unknown>): Promise<number[]> {
  const seen: number[] = [];
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  while (!finished) {
    seen.push(await stockOf(service, productId));
    await new Promise((r) => setTimeout(r, 2));
  }
  seen.push(await stockOf(service, productId));
  return seen;
}

describe('racing for the last units', () => {
  it('when 50 orders race for the last 10 units, then exactly 10 get 201, 40 get 409, stock ends at 0 and is never negative', async () => {
    const product = await makeProduct(service, { stock: 30 });
    await makeOrder(service, [{ productId: product.id, quantity: 20 }]); // 10 units left
    expect(await stockOf(service, product.id)).toBe(10);

    const burst = Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        service.api('POST', '/orders', { customerId: `racer-${i}`, items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    const [responses, seen] = await Promise.all([burst, sampleStock(product.id, burst)]);

    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    for (const r of responses.filter((x) => x.status === 409)) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body.type).toBe('urn:order-timeout:problem:insufficient-stock');
    }
    expect(new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id)).size).toBe(10);

    expect(await stockOf(service, product.id)).toBe(0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    // Conservation: what is held by orders plus what is left is what was received.
    const held = await service.db('order_items').where({ product_id: product.id }).sum({ q: 'quantity' }).first();
    expect(Number(held!.q)).toBe(30);
    const orders = await service.db('order_items').where({ product_id: product.id }).count({ n: '*' }).first();
    expect(Number(orders!.n)).toBe(11);
  });

  it('when multi-item orders race over two scarce products, then no product goes negative and each order got all items or none', async () => {
    const a = await makeProduct(service, { stock: 6 });
    const b = await makeProduct(service, { stock: 6 });
    // Half the orders list a then b, half b then a: the locking order must not deadlock or oversell.
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        service.api('POST', '/orders', {
          customerId: `multi-${i}`,
          items:
            i % 2 === 0
              ? [
                  { productId: a.id, quantity: 1 },
                  { productId: b.id, quantity: 1 },
                ]
              : [
                  { productId: b.id, quantity: 1 },
                  { productId: a.id, quantity: 1 },
                ],
        }),
      ),
    );
    const created = responses.filter((r) => r.status === 201);
    expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    expect(created).toHaveLength(6);
    expect(await stockOf(service, a.id)).toBe(0);
    expect(await stockOf(service, b.id)).toBe(0);
    for (const r of created) expect(r.body.items).toHaveLength(2);
  });
});

describe('pay racing cancel', () => {
  it('when pay and cancel are fired together on each of 100 orders, then exactly one wins each time, a payment that lost is kept for a refund, and the stock matches the winners', async () => {
    const product = await makeProduct(service, { stock: 200 });
    const orders: string[] = [];
    for (let i = 0; i < 100; i++)
      orders.push((await makeOrder(service, [{ productId: product.id, quantity: 1 }], `pc-${i}`)).id);
    expect(await stockOf(service, product.id)).toBe(100);

    const results = await Promise.all(
      orders.map(async (id) => {
        const [payment, cancel] = await Promise.all([
          pay(service, id, `ref-${id}`),
          service.api('POST', `/orders/${id}/cancel`),
        ]);
        return { id, payment, cancel };
      }),
    );

    let paid = 0;
    let cancelled = 0;
    for (const { id, payment, cancel } of results) {
      // Pay won: the cancel is refused. Cancel won: the payment is stored for a refund (contract §8).
      expect([
        [200, 409],
        [202, 200],
      ]).toContainEqual([payment.status, cancel.status]);
      const winner = payment.status === 200 ? 'PAID' : 'CANCELLED';
      if (winner === 'PAID') {
        paid++;
        expect(cancel.body.type).toBe('urn:order-timeout:problem:illegal-transition');
        expect(cancel.body.orderStatus).toBe(winner);
      } else {
        cancelled++;
        expect(payment.body).toEqual({ orderId: id, paymentRef: `ref-${id}`, status: 'REFUND_REQUIRED' });
      }
      const stored = await service.db('payments').where({ order_id: id }).select('status');
      expect(stored).toEqual([{ status: winner === 'PAID' ? 'CAPTURED' : 'REFUND_REQUIRED' }]);
      const row = await service.db('orders').where({ id }).first('status', 'paid_at', 'closed_at');
      expect(row.status).toBe(winner);
      expect(winner === 'PAID' ? [row.paid_at !== null, row.closed_at] : [row.paid_at, row.closed_at !== null]).toEqual(
        winner === 'PAID' ? [true, null] : [null, true],
      );
      const events = await eventsOf(service, id);
      expect(events.map((e) => e.event)).toEqual(['create', winner === 'PAID' ? 'pay' : 'cancel']);
    }
    expect(paid + cancelled).toBe(100);
    // Paid orders keep their unit; cancelled ones gave it back exactly once.
    expect(await stockOf(service, product.id)).toBe(100 + cancelled);
  });

  it('when the same order is cancelled 5 times at once, on each of 20 orders, then one cancel wins and the stock comes back once', async () => {
    const product = await makeProduct(service, { stock: 40 });
    const orders: string[] = [];
    for (let i = 0; i < 20; i++)
      orders.push((await makeOrder(service, [{ productId: product.id, quantity: 2 }], `cc-${i}`)).id);
    expect(await stockOf(service, product.id)).toBe(0);

    const results = await Promise.all(
      orders.map((id) => Promise.all(Array.from({ length: 5 }, () => service.api('POST', `/orders/${id}/cancel`)))),
    );
    for (const responses of results) {
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409]);
    }
    expect(await stockOf(service, product.id)).toBe(40);
    const cancelEvents = await service
      .db('order_events')
      .whereIn('order_id', orders)
      .andWhere({ event: 'cancel' })
      .count({ n: '*' })
      .first();
    expect(Number(cancelEvents!.n)).toBe(20);
  });
});
