import { startTestService, type TestService } from '../support/service';
import { expectProblem, makeProduct, stockOf } from '../support/fixtures';
import { pay } from '../support/payments';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});

afterAll(async () => {
  await service?.destroy();
});

const orderCount = async (customerId: string) =>
  Number((await service.db('orders').where({ customer_id: customerId }).count({ n: '*' }).first())!.n);

describe('Idempotency-Key on POST /orders', () => {
  it('when the same key and body are sent twice, then the second answer is the first (same order id, Idempotent-Replayed: true) and one order exists', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const body = { customerId: 'idem-1', items: [{ productId: p.id, quantity: 2 }] };
    const first = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-replay-1' });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const second = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-replay-1' });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(`/orders/${first.body.id}`);

    expect(await orderCount('idem-1')).toBe(1);
    expect(await stockOf(service, p.id)).toBe(8);
  });

  it('when the replayed body lists the same fields in another key order, then it still counts as the same body', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const first = await service.api(
      'POST',
      '/orders',
      { customerId: 'idem-order', items: [{ productId: p.id, quantity: 1 }] },
      { 'Idempotency-Key': 'key-order' },
    );
    const second = await service.api(
      'POST',
      '/orders',
      { items: [{ quantity: 1, productId: p.id }], customerId: 'idem-order' },
      { 'Idempotency-Key': 'key-order' },
    );
    expect(second.status).toBe(201);
    expect(second.body.id).toBe(first.body.id);
    expect(await stockOf(service, p.id)).toBe(9);
  });

  it('when the first order has since been paid, then the replay still returns the first response as it was', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const body = { customerId: 'idem-paid', items: [{ productId: p.id, quantity: 1 }] };
    const first = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-paid' });
    await pay(service, first.body.id, `r-${first.body.id}`);
    const second = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-paid' });
    expect(second.body).toEqual(first.body);
    expect(await orderCount('idem-paid')).toBe(1);
  });

  it('when the same key and body are sent 10 times at once, then one order is created and all answers name it', async () => {
    const p = await makeProduct(service, { stock: 100 });
    const body = { customerId: 'idem-burst', items: [{ productId: p.id, quantity: 3 }] };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-burst' })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
    expect(await orderCount('idem-burst')).toBe(1);
    expect(await stockOf(service, p.id)).toBe(97);
  });

  it('when the same key comes with another body, then it answers 422 and no second order is created', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const first = await service.api(
      'POST',
      '/orders',
      { customerId: 'idem-422', items: [{ productId: p.id, quantity: 1 }] },
      { 'Idempotency-Key': 'key-422' },
    );
    expect(first.status).toBe(201);
    const other = await service.api(
      'POST',
      '/orders',
      { customerId: 'idem-422', items: [{ productId: p.id, quantity: 4 }] },
      { 'Idempotency-Key': 'key-422' },
    );
    expectProblem(other, 422, 'idempotency-key-reused');
    expect(other.body.detail).toContain('key-422');
    expect(await orderCount('idem-422')).toBe(1);
    expect(await stockOf(service, p.id)).toBe(9);
  });

  it('when different keys carry the same body, then each makes its own order', async () => {
    const p = await makeProduct(service, { stock: 10 });
    const body = { customerId: 'idem-two', items: [{ productId: p.id, quantity: 1 }] };
    const a = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-two-a' });
    const b = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-two-b' });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
    expect(await orderCount('idem-two')).toBe(2);
  });

  it('when the first request with a key failed (short stock), then the key is not used up and a retry with the same body can succeed', async () => {
    const p = await makeProduct(service, { stock: 1 });
    const body = { customerId: 'idem-retry', items: [{ productId: p.id, quantity: 2 }] };
    expectProblem(
      await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-retry' }),
      409,
      'insufficient-stock',
    );
    await service.db('products').where({ id: p.id }).update({ stock: 5 });
    const retry = await service.api('POST', '/orders', body, { 'Idempotency-Key': 'key-retry' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await orderCount('idem-retry')).toBe(1);
  });
});
