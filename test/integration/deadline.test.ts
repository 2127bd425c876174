import { startTestService, type TestService } from '../support/service';
import { sleep } from '../support/scratch';
import { eventsOf, expectProblem, expireInDb, ISO_MS, makeOrder, makeProduct, stockOf } from '../support/fixtures';
import { pay } from '../support/payments';

let service: TestService;

beforeAll(async () => {
  // Delay levels 1s and 10m: a 15m order's timeout message waits 10 minutes in RabbitMQ, so nothing but the
  // request under test closes an order whose deadline the test moves into the past.
  service = await startTestService({ delayLevels: '1s,10m', orderPaymentTimeouts: { default: '15m', flash: '1s' } });
});

afterAll(async () => {
  await service?.destroy();
});

/** A 15-minute order for 3 of a product with stock 10, whose deadline is then moved 1s into the past. */
async function overdueOrder() {
  const product = await makeProduct(service, { stock: 10 });
  const order = await makeOrder(service, [{ productId: product.id, quantity: 3 }]);
  expect(await stockOf(service, product.id)).toBe(7);
  await expireInDb(service, order.id);
  return { orderId: order.id, productId: product.id };
}

const timeoutEvents = async (orderId: string) =>
  (await eventsOf(service, orderId)).filter((e) => e.event === 'timeout');

describe('reading an order after its deadline', () => {
  it('when a pending order is read after its deadline, then it comes back CLOSED with closedAt, its stock is back and the event source is read', async () => {
    const { orderId, productId } = await overdueOrder();
    const res = await service.api('GET', `/orders/${orderId}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('CLOSED');
    expect(res.body.closedAt).toMatch(ISO_MS);
    expect(Date.parse(res.body.closedAt)).toBeGreaterThanOrEqual(Date.parse(res.body.expiresAt));
    expect(res.body.paidAt).toBeNull();
    expect(await stockOf(service, productId)).toBe(10);

    const row = await service.db('orders').where({ id: orderId }).first('status', 'closed_at');
    expect(row.status).toBe('CLOSED');
    expect((row.closed_at as Date).toISOString()).toBe(res.body.closedAt);
    expect(await eventsOf(service, orderId)).toEqual([
      expect.objectContaining({ event: 'create', to: 'PENDING_PAYMENT' }),
      { event: 'timeout', from: 'PENDING_PAYMENT', to: 'CLOSED', source: 'read', at: res.body.closedAt },
    ]);
  });

  it('when an overdue order is read several times, then it is closed once and its stock comes back once', async () => {
    const { orderId, productId } = await overdueOrder();
    const first = await service.api('GET', `/orders/${orderId}`);
    const second = await service.api('GET', `/orders/${orderId}`);
    expect(second.body).toEqual(first.body);
    expect(await stockOf(service, productId)).toBe(10);
    expect(await timeoutEvents(orderId)).toHaveLength(1);
  });

  it('when an overdue order is read 10 times at once, then all see CLOSED, one timeout event is written and stock comes back once', async () => {
    const { orderId, productId } = await overdueOrder();
    const reads = await Promise.all(Array.from({ length: 10 }, () => service.api('GET', `/orders/${orderId}`)));
    expect(reads.map((r) => [r.status, r.body.status])).toEqual(Array(10).fill([200, 'CLOSED']));
    expect(await stockOf(service, productId)).toBe(10);
    expect(await timeoutEvents(orderId)).toHaveLength(1);
  });

  it('when the events of an overdue order are listed, then the order is closed first and the list shows it', async () => {
    const { orderId, productId } = await overdueOrder();
    const events = await eventsOf(service, orderId);
    expect(events.at(-1)).toEqual(
      expect.objectContaining({ event: 'timeout', from: 'PENDING_PAYMENT', to: 'CLOSED', source: 'read' }),
    );
    expect(await stockOf(service, productId)).toBe(10);
  });

  it('when a paid order is read after its deadline, then it stays PAID and keeps its stock', async () => {
    const product = await makeProduct(service, { stock: 10 });
    const order = await makeOrder(service, [{ productId: product.id, quantity: 3 }]);
    expect((await pay(service, order.id, `r-${order.id}`)).status).toBe(200);
    await expireInDb(service, order.id);
    const res = await service.api('GET', `/orders/${order.id}`);
    expect(res.body.status).toBe('PAID');
    expect(res.body.closedAt).toBeNull();
    expect(await stockOf(service, product.id)).toBe(7);
  });

  it('when a pending order is read before its deadline, then it is still PENDING_PAYMENT', async () => {
    const product = await makeProduct(service, { stock: 10 });
    const order = await makeOrder(service, [{ productId: product.id, quantity: 3 }]);
    const res = await service.api('GET', `/orders/${order.id}`);
    expect(res.body.status).toBe('PENDING_PAYMENT');
    expect(await stockOf(service, product.id)).toBe(7);
  });

  it('when an order with a 1s window is read after the window ran out, then it comes back CLOSED with closedAt and its stock is back once', async () => {
    const product = await makeProduct(service, { stock: 10, category: 'flash' });
    const order = await makeOrder(service, [{ productId: product.id, quantity: 3 }]);
    expect(Date.parse(order.expiresAt) - Date.now()).toBeLessThanOrEqual(1_000);
    await sleep(Math.max(0, Date.parse(order.expiresAt) - Date.now()) + 100);
    const res = await service.api('GET', `/orders/${order.id}`);
    expect(res.body.status).toBe('CLOSED');
    expect(res.body.closedAt).toMatch(ISO_MS);
    expect(await stockOf(service, product.id)).toBe(10);
    // Whoever closed it first (this read or the timeout consumer), it was closed exactly once.
    const closing = await timeoutEvents(order.id);
    expect(closing).toHaveLength(1);
    expect(['read', 'timeout']).toContain(closing[0]!.source);
  });
});

describe('acting on an order after its deadline', () => {
  it('when a pending order is paid after its deadline, then it is never paid as pending: closed first (source read), then revived by the late payment', async () => {
    const { orderId, productId } = await overdueOrder();
    const res = await pay(service, orderId, `too-late-${orderId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'PAID', closedAt: expect.stringMatching(ISO_MS) });
    expect(await stockOf(service, productId)).toBe(7);
    expect((await eventsOf(service, orderId)).map((e) => [e.event, e.from, e.source])).toEqual([
      ['create', null, 'http'],
      ['timeout', 'PENDING_PAYMENT', 'read'],
      ['revive', 'CLOSED', 'http'],
    ]);
  });

  it('when a pending order is shipped after its deadline, then it answers 409 and the order is CLOSED with its stock back', async () => {
    const { orderId, productId } = await overdueOrder();
    expectProblem(await service.api('POST', `/orders/${orderId}/ship`), 409);
    expect((await service.api('GET', `/orders/${orderId}`)).body.status).toBe('CLOSED');
    expect(await stockOf(service, productId)).toBe(10);
  });

  it('when a pending order is cancelled after its deadline, then it answers 409, ends CLOSED (not CANCELLED) and its stock is back once', async () => {
    const { orderId, productId } = await overdueOrder();
    expectProblem(await service.api('POST', `/orders/${orderId}/cancel`), 409);
    expect((await service.api('GET', `/orders/${orderId}`)).body.status).toBe('CLOSED');
    expect(await stockOf(service, productId)).toBe(10);
    expect((await eventsOf(service, orderId)).map((e) => e.event)).toEqual(['create', 'timeout']);
  });

  it('when an order with a 1s window is paid after the window ran out, then it is closed exactly once and revived', async () => {
    const product = await makeProduct(service, { stock: 10, category: 'flash' });
    const order = await makeOrder(service, [{ productId: product.id, quantity: 3 }]);
    await sleep(Math.max(0, Date.parse(order.expiresAt) - Date.now()) + 100);
    const res = await pay(service, order.id, `too-late-${order.id}`);
    expect({ status: res.status, orderStatus: res.body.status }).toEqual({ status: 200, orderStatus: 'PAID' });
    expect(await stockOf(service, product.id)).toBe(7);
    expect(await timeoutEvents(order.id)).toHaveLength(1);
  });
});
