import type { Knex } from 'knex';
import { closeDueOrders } from '../../src/db/order-transitions';
import { migratedScratchDatabase } from '../support/scratch';

// A database of its own and no running service: the only transactions are the ones this file starts.
let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
let db: Knex;
beforeAll(async () => {
  scratch = await migratedScratchDatabase();
  db = scratch.db;
});
afterAll(async () => scratch?.destroy());

// The sweeper's scan follows the (status, expires_at) index, so a batch stops after `limit` rows instead of
// sorting (and locking) the whole overdue backlog by id; EXPLAIN shows no filesort. Observable: oldest first.
test('when many orders are overdue, then a sweeper batch closes the oldest deadlines first', async () => {
  const now = new Date();
  const [productId] = await db('products').insert({
    sku: 'sweep-1',
    name: 'p',
    category: 'c',
    price_cents: 1,
    stock: 0,
    stock_received: 400,
    created_at: now,
    updated_at: now,
  });
  // 400 overdue pending orders; the lowest ids expired last, so id order and deadline order disagree.
  await db('orders').insert(
    Array.from({ length: 400 }, (_, i) => ({
      customer_id: 'c',
      status: 'PENDING_PAYMENT',
      total_cents: 1,
      expires_at: new Date(now.getTime() - 60_000 - i * 1000),
      created_at: now,
      updated_at: now,
    })),
  );
  const ids: { id: number }[] = await db('orders').select('id');
  await db('order_items').insert(
    ids.map(({ id }) => ({ order_id: id, product_id: productId, quantity: 1, unit_price_cents: 1 })),
  );

  const closed = await closeDueOrders(db, { source: 'sweeper', now: new Date(), limit: 5 });

  expect(closed).toHaveLength(5);
  const oldest: { id: number }[] = await db('orders').select('id').orderBy('expires_at').limit(5);
  expect(closed.map((c) => c.id).sort()).toEqual(oldest.map((o) => String(o.id)).sort());
  expect((await db('products').where({ id: productId }).first()).stock).toBe(5);
  const [plan] = await db.raw(
    "EXPLAIN SELECT id FROM orders WHERE status = 'PENDING_PAYMENT' AND expires_at <= NOW(3) ORDER BY expires_at, id LIMIT 500 FOR UPDATE SKIP LOCKED",
  );
  expect(String((plan as { Extra: string }[])[0]!.Extra)).not.toMatch(/filesort/);
});
