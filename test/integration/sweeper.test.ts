import type { Knex } from 'knex';
import { closeDueOrders } from '../../src/db/order-transitions';
import { sweepOverdueOrders } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
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
/** `count` overdue pending orders of one unit each of a new product (its stock all held); returns their ids. */
async function overdueOrders(count: number, sku: string): Promise<{ productId: number; ids: string[] }> {
  const now = new Date();
  const [productId] = await db('products').insert({
    sku,
    name: 'p',
    category: 'c',
    price_cents: 1,
    stock: 0,
    stock_received: count,
    created_at: now,
    updated_at: now,
  });
  // The lowest ids expired last, so id order and deadline order disagree.
  const [first] = await db('orders').insert(
    Array.from({ length: count }, (_, i) => ({
      customer_id: 'c',
      status: 'PENDING_PAYMENT',
      total_cents: 1,
      expires_at: new Date(now.getTime() - 60_000 - i * 1000),
      created_at: now,
      updated_at: now,
    })),
  );
  const ids = Array.from({ length: count }, (_, i) => first! + i);
  await db('order_items').insert(
    ids.map((id) => ({ order_id: id, product_id: productId, quantity: 1, unit_price_cents: 1 })),
  );
  return { productId: productId!, ids: ids.map(String) };
}

const pendingOf = async (ids: string[]) =>
  (await db('orders').whereIn('id', ids).andWhere({ status: 'PENDING_PAYMENT' }).select('id')).map((r) => String(r.id));

test('when many orders are overdue, then a sweeper batch closes the oldest deadlines first', async () => {
  const { productId } = await overdueOrders(400, 'sweep-1');

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

describe('an order that always fails to close', () => {
  afterEach(async () => {
    await db.raw('DROP TRIGGER IF EXISTS sweep_injected_failure');
  });

  test('when one overdue order fails to close in every transaction, then the sweeper closes all the others, logs and counts the failing one, and leaves it out of its batches until it can close', async () => {
    // What earlier tests left overdue is closed first, so the sweeps below see only these 120 orders.
    await sweepOverdueOrders({ db, now: () => new Date(), graceMs: 0, batchSize: 500 });
    const { productId, ids } = await overdueOrders(120, 'sweep-iso');
    const victim = ids[57]!;
    await db.raw(
      `CREATE TRIGGER sweep_injected_failure BEFORE UPDATE ON orders FOR EACH ROW
       IF NEW.id = ${Number(victim)} AND NEW.status = 'CLOSED' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF`,
    );
    const warnings: { message: string; orderId?: string }[] = [];
    const spy = jest.spyOn(logger, 'warn').mockImplementation(((message: string, meta?: { orderId?: string }) => {
      warnings.push({ message, orderId: meta?.orderId });
      return logger;
    }) as never);
    const failed: string[] = [];
    const failing = new Set<string>();
    const sweep = () =>
      sweepOverdueOrders({
        db,
        now: () => new Date(),
        graceMs: 0,
        batchSize: 50,
        failing,
        onFailed: (id) => failed.push(id),
      });
    try {
      const closed = await sweep();
      expect(closed).toHaveLength(119);
      expect(await pendingOf(ids)).toEqual([victim]);
      expect(failed).toEqual([victim]);
      expect([...failing]).toEqual([victim]);
      expect(warnings.filter((w) => w.orderId === victim)).toHaveLength(1);
      expect(warnings.some((w) => /batch failed; firing its timers one at a time/.test(w.message))).toBe(true);
      // Stock conserved: the 119 closed orders gave back one unit each, the failing one still holds its unit.
      expect((await db('products').where({ id: productId }).first()).stock).toBe(119);

      // The next sweep tries the failing order alone (once) and no batch fails on it again.
      warnings.length = 0;
      expect(await sweep()).toHaveLength(0);
      expect(failed).toEqual([victim, victim]);
      expect(warnings.map((w) => w.message)).toEqual([
        'sweeper could not fire an order timer; skipping it, the others go on',
      ]);

      // Once it can close, it does, and it is forgotten.
      await db.raw('DROP TRIGGER sweep_injected_failure');
      expect((await sweep()).map((c) => c.id)).toEqual([victim]);
      expect(failing.size).toBe(0);
      expect((await db('products').where({ id: productId }).first()).stock).toBe(120);
    } finally {
      spy.mockRestore();
    }
  });
});
