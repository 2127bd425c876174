import { startTestService, type TestService } from '../support/service';
import { sleep } from '../support/scratch';
import { eventsOf, expectProblem, expireInDb, makeOrder, makeProduct, stockOf } from '../support/fixtures';
import { pay } from '../support/payments';

type State = 'PENDING_PAYMENT' | 'PAID' | 'SHIPPED' | 'COMPLETED' | 'CANCELLED' | 'CLOSED';
type HttpEvent = 'pay' | 'cancel' | 'ship' | 'complete';
type Transition = Exclude<HttpEvent, 'pay'>;

const STATES: State[] = ['PENDING_PAYMENT', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'CLOSED'];
/** The buyer's and merchant's events; a payment is a notification with outcomes of its own (below). */
const EVENTS: Transition[] = ['cancel', 'ship', 'complete'];

/** The state machine (docs/architecture.md), the legal pairs reachable over HTTP; every other pair must answer 409. */
const LEGAL: Partial<Record<`${State} ${Transition}`, { to: State; stockBack: boolean }>> = {
  'PENDING_PAYMENT cancel': { to: 'CANCELLED', stockBack: true },
  'PAID ship': { to: 'SHIPPED', stockBack: false },
  'SHIPPED complete': { to: 'COMPLETED', stockBack: false },
};

/**
 * Contract §8: a payment in each state. 200 when it pays the order (pending) or revives it (closed, policy
 * revive, everything still available); 202 REFUND_REQUIRED, the order unchanged, otherwise.
 */
const PAYMENT: Record<State, { status: 200 | 202; to: State; event?: string }> = {
  PENDING_PAYMENT: { status: 200, to: 'PAID', event: 'pay' },
  CLOSED: { status: 200, to: 'PAID', event: 'revive' },
  PAID: { status: 202, to: 'PAID' },
  SHIPPED: { status: 202, to: 'SHIPPED' },
  COMPLETED: { status: 202, to: 'COMPLETED' },
  CANCELLED: { status: 202, to: 'CANCELLED' },
};

const STOCK = 10;
const QTY = 3;
const PAYMENT_REF = 'ref-original';

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ orderPaymentTimeouts: { default: '15m', flash: '1s' } });
});

afterAll(async () => {
  await service?.destroy();
});

/** An event over HTTP; a payment's reference is `paymentRef` and the order id (unique per order). */
async function post(orderId: string, event: HttpEvent, paymentRef = PAYMENT_REF) {
  return event === 'pay'
    ? pay(service, orderId, `${paymentRef}-${orderId}`)
    : service.api('POST', `/orders/${orderId}/${event}`);
}

async function expectOk(res: { status: number; body: unknown }, status: State) {
  expect({ status: res.status, orderStatus: (res.body as { status?: string }).status }).toEqual({
    status: 200,
    orderStatus: status,
  });
}

/** A fresh order (on a product of its own, stock 10, quantity 3) brought to `state` through the API. */
async function orderIn(state: State): Promise<{ orderId: string; productId: string }> {
  const product = await makeProduct(service, { stock: STOCK, category: state === 'CLOSED' ? 'flash' : 'books' });
  const order = await makeOrder(service, [{ productId: product.id, quantity: QTY }]);
  const id = order.id;
  switch (state) {
    case 'PENDING_PAYMENT':
      break;
    case 'PAID':
      await expectOk(await post(id, 'pay'), 'PAID');
      break;
    case 'SHIPPED':
      await expectOk(await post(id, 'pay'), 'PAID');
      await expectOk(await post(id, 'ship'), 'SHIPPED');
      break;
    case 'COMPLETED':
      await expectOk(await post(id, 'pay'), 'PAID');
      await expectOk(await post(id, 'ship'), 'SHIPPED');
      await expectOk(await post(id, 'complete'), 'COMPLETED');
      break;
    case 'CANCELLED':
      await expectOk(await post(id, 'cancel'), 'CANCELLED');
      break;
    case 'CLOSED': {
      // The flash window is 1s: wait until it has run out, then read.
      const wait = Date.parse(order.expiresAt) - Date.now() + 100;
      if (wait > 0) await sleep(wait);
      const read = await service.api('GET', `/orders/${id}`);
      expect(read.body.status).toBe('CLOSED');
      break;
    }
  }
  const current = await service.api('GET', `/orders/${id}`);
  expect(current.body.status).toBe(state);
  return { orderId: id, productId: product.id };
}

const stockIn = (state: State) => (state === 'CANCELLED' || state === 'CLOSED' ? STOCK : STOCK - QTY);

const pairs = STATES.flatMap((s) => EVENTS.map((e) => [s, e] as [State, Transition]));

describe('the transition table over HTTP', () => {
  const legal = pairs.filter(([s, e]) => LEGAL[`${s} ${e}`]);
  const illegal = pairs.filter(([s, e]) => !LEGAL[`${s} ${e}`]);

  it('when the table is enumerated, then 3 of the 18 (state, cancel|ship|complete) pairs are legal over HTTP', () => {
    expect(legal).toHaveLength(3);
    expect(illegal).toHaveLength(15);
  });

  it.each(legal)(
    'when a %s order receives %s, then it moves, writes one order_events row and handles stock as the table says',
    async (state, event) => {
      const { to, stockBack } = LEGAL[`${state} ${event}`]!;
      const { orderId, productId } = await orderIn(state);
      const eventsBefore = await eventsOf(service, orderId);

      const res = await post(orderId, event);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(to);

      const read = await service.api('GET', `/orders/${orderId}`);
      expect(read.body.status).toBe(to);
      const eventsAfter = await eventsOf(service, orderId);
      expect(eventsAfter).toHaveLength(eventsBefore.length + 1);
      expect(eventsAfter.slice(0, -1)).toEqual(eventsBefore);
      expect(eventsAfter.at(-1)).toEqual({ event, from: state, to, source: 'http', at: expect.any(String) });
      const rows = await service
        .db('order_events')
        .where({ order_id: orderId, event })
        .select('from_status', 'to_status', 'source');
      expect(rows).toEqual([{ from_status: state, to_status: to, source: 'http' }]);
      expect(await stockOf(service, productId)).toBe(stockBack ? STOCK : STOCK - QTY);
      expect((await service.db('orders').where({ id: orderId }).first('status')).status).toBe(to);
    },
  );

  it.each(illegal)(
    'when a %s order receives %s, then it answers 409 and changes nothing (status, stock, events)',
    async (state, event) => {
      const { orderId, productId } = await orderIn(state);
      const orderBefore = (await service.api('GET', `/orders/${orderId}`)).body;
      const rowBefore = await service.db('orders').where({ id: orderId }).first();
      const eventsBefore = await eventsOf(service, orderId);

      const res = await post(orderId, event);
      expectProblem(res, 409);
      expect(res.body.type).toMatch(/illegal-transition|payment-window-ended/);

      expect((await service.api('GET', `/orders/${orderId}`)).body).toEqual(orderBefore);
      expect(await service.db('orders').where({ id: orderId }).first()).toEqual(rowBefore);
      expect(await eventsOf(service, orderId)).toEqual(eventsBefore);
      expect(await stockOf(service, productId)).toBe(stockIn(state));
      expect(await stockOf(service, productId)).toBe(stockIn(state));
    },
  );
});

describe('a payment in every state', () => {
  it.each(STATES)(
    'when a %s order receives a payment of its total, then it answers as contract §8 says',
    async (state) => {
      const { status, to, event } = PAYMENT[state];
      const { orderId, productId } = await orderIn(state);
      const eventsBefore = await eventsOf(service, orderId);
      const res = await post(orderId, 'pay', 'ref-new');
      expect(res.status).toBe(status);
      if (status === 202)
        expect(res.body).toEqual({ orderId, paymentRef: `ref-new-${orderId}`, status: 'REFUND_REQUIRED' });
      else expect(res.body).toMatchObject({ id: orderId, status: to, paymentRef: `ref-new-${orderId}` });
      const events = await eventsOf(service, orderId);
      expect(events.slice(eventsBefore.length).map((e) => [e.event, e.to, e.source])).toEqual(
        event ? [[event, to, 'http']] : [],
      );
      // Paid (or revived): the stock is taken; otherwise as it was.
      expect(await stockOf(service, productId)).toBe(status === 200 ? STOCK - QTY : stockIn(state));
      const payment = await service
        .db('payments')
        .where({ payment_ref: `ref-new-${orderId}` })
        .first('status');
      expect(payment.status).toBe(status === 200 ? 'CAPTURED' : 'REFUND_REQUIRED');
    },
  );
});

describe('paying twice', () => {
  it('when a paid order is paid again with the same paymentRef, then it answers 200 PAID, writes no event and stores it once', async () => {
    const { orderId, productId } = await orderIn('PAID');
    const before = (await service.api('GET', `/orders/${orderId}`)).body;
    const events = await eventsOf(service, orderId);
    const res = await post(orderId, 'pay', PAYMENT_REF);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before);
    expect(await eventsOf(service, orderId)).toEqual(events);
    expect(await stockOf(service, productId)).toBe(STOCK - QTY);
    expect(await service.db('payments').where({ order_id: orderId }).count({ n: '*' }).first()).toEqual({ n: 1 });
  });

  it('when a paid order is paid again with another paymentRef, then it answers 202 REFUND_REQUIRED and keeps the first ref', async () => {
    const { orderId } = await orderIn('PAID');
    const res = await post(orderId, 'pay', 'ref-second');
    expect(res.status).toBe(202);
    const row = await service.db('orders').where({ id: orderId }).first('payment_ref', 'status');
    expect(row).toEqual({ payment_ref: `${PAYMENT_REF}-${orderId}`, status: 'PAID' });
  });

  it('when a shipped order is paid again with the same paymentRef, then it answers 200 and stays SHIPPED', async () => {
    const { orderId } = await orderIn('SHIPPED');
    const res = await post(orderId, 'pay', PAYMENT_REF);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('SHIPPED');
  });
});

describe('stock is given back exactly once', () => {
  it('when an order is cancelled, then its stock is back once, and a second cancel gives nothing more', async () => {
    const { orderId, productId } = await orderIn('PENDING_PAYMENT');
    expect(await stockOf(service, productId)).toBe(STOCK - QTY);
    expect((await post(orderId, 'cancel')).status).toBe(200);
    expect(await stockOf(service, productId)).toBe(STOCK);
    expectProblem(await post(orderId, 'cancel'), 409, 'illegal-transition');
    expect(await stockOf(service, productId)).toBe(STOCK);
  });

  it('when a cancelled order later passes its deadline and is read, then it stays CANCELLED and stock is not given back again', async () => {
    const { orderId, productId } = await orderIn('CANCELLED');
    await expireInDb(service, orderId);
    const read = await service.api('GET', `/orders/${orderId}`);
    expect(read.body.status).toBe('CANCELLED');
    expect(await stockOf(service, productId)).toBe(STOCK);
    expect((await eventsOf(service, orderId)).map((e) => e.event)).toEqual(['create', 'cancel']);
  });

  it('when an order with several products is cancelled, then each product gets exactly its quantity back', async () => {
    const a = await makeProduct(service, { stock: 20 });
    const b = await makeProduct(service, { stock: 7 });
    const order = await makeOrder(service, [
      { productId: a.id, quantity: 5 },
      { productId: b.id, quantity: 7 },
    ]);
    expect([await stockOf(service, a.id), await stockOf(service, b.id)]).toEqual([15, 0]);
    expect((await post(order.id, 'cancel')).status).toBe(200);
    expect([await stockOf(service, a.id), await stockOf(service, b.id)]).toEqual([20, 7]);
  });
});
