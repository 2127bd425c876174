import { randomUUID } from 'node:crypto';
import { claimOutbox } from '../../src/db/outbox-repo';
import { makeProduct, waitForStatus } from '../support/fixtures';
import { insertUnsentOutbox } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({
    orderPaymentTimeouts: { default: '15m', short: '1s' },
    outbox: { relayInterval: '200ms' },
  });
});
afterAll(async () => svc?.destroy());

const insertUnsent = (count: number, claimedUntil: Date | null) => insertUnsentOutbox(svc.db, count, claimedUntil);

test('when several relays claim the outbox at once, then every row goes to exactly one of them', async () => {
  // Far-future claims keep the running service's own relay out of the way.
  await svc
    .db('outbox')
    .update({ claimed_until: new Date(Date.now() + 3_600_000) })
    .whereNull('sent_at');
  await insertUnsent(300, new Date(Date.now() - 1000));
  const now = new Date();
  const claims = await Promise.all([1, 2, 3].map((n) => claimOutbox(svc.db, `relay-${n}`, now, 60_000, 500)));
  const ids = claims.flat().map((r) => r.id);
  expect(ids.length).toBe(300);
  expect(new Set(ids).size).toBe(300);
  const owners = await svc.db('outbox').whereIn('id', ids).distinct('claimed_by');
  expect(owners.length).toBeGreaterThanOrEqual(1);
});

test('when the process that wrote an order died before publishing, then the relay publishes its timeout once the claim lapses and the order closes', async () => {
  const product = (await makeProduct(svc, { category: 'short', stock: 3 })).id;
  const now = new Date();
  // An order as a process would have committed it just before being killed: stock taken, outbox row claimed.
  const [orderId] = await svc.db('orders').insert({
    customer_id: 'c',
    status: 'PENDING_PAYMENT',
    total_cents: 0,
    expires_at: new Date(now.getTime() + 1000),
    created_at: now,
    updated_at: now,
  });
  await svc.db('order_items').insert({ order_id: orderId, product_id: product, quantity: 1, unit_price_cents: 0 });
  await svc.db('products').where({ id: product }).decrement('stock', 1);
  await svc.db('outbox').insert({
    message_id: randomUUID(),
    kind: 'order.timeout',
    order_id: orderId,
    payload: JSON.stringify({
      orderId: String(orderId),
      expiresAt: new Date(now.getTime() + 1000).toISOString(),
      attempt: 0,
    }),
    created_at: now,
    claimed_by: 'dead-process',
    claimed_until: new Date(now.getTime() + 500),
  });

  await waitForStatus(svc, String(orderId), 'CLOSED', 10_000);
  const events = await svc.db('order_events').where({ order_id: orderId });
  expect(events.map((e: { source: string }) => e.source)).toEqual(['timeout']);
  const row = await svc.db('outbox').where({ order_id: orderId, kind: 'order.timeout' }).first();
  expect(row.sent_at).not.toBeNull();
  expect((await svc.db('products').where({ id: product }).first()).stock).toBe(3);
});
