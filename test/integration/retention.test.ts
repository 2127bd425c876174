import { purgeAll } from '../../src/jobs/retention';
import { makeOrder, makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';

const HOUR = 3_600_000;
let svc: TestService;

beforeAll(async () => {
  // Purges every 200 ms in this file, with a 1 h retention for both tables.
  svc = await startTestService({
    retention: { interval: '200ms', batchSize: 2 },
    idempotency: { retention: '1h' },
    outbox: { retainSent: '1h' },
  });
});
afterAll(async () => svc?.destroy());

const order = (key: string, productId: string) =>
  svc.api('POST', '/orders', { customerId: 'c-ret', items: [{ productId, quantity: 1 }] }, { 'Idempotency-Key': key });

const ageRows = (table: string, column: string, where: Record<string, unknown>, ms: number) =>
  svc
    .db(table)
    .where(where)
    .update({ [column]: new Date(Date.now() - ms) });

test('when an idempotency key is older than its retention, then it is purged and the same key creates a new order; a younger key still replays', async () => {
  const product = (await makeProduct(svc, { stock: 10 })).id;
  const old = await order('ret-old', product);
  const young = await order('ret-young', product);
  await ageRows('idempotency_keys', 'created_at', { idempotency_key: 'ret-old' }, 2 * HOUR);

  await eventually(
    async () => (await svc.db('idempotency_keys').where({ idempotency_key: 'ret-old' }).first()) === undefined,
    10_000,
    'the expired key to be purged',
  );
  const again = await order('ret-old', product);
  expect(again.status).toBe(201);
  expect(again.body.id).not.toBe(old.body.id);

  const replay = await order('ret-young', product);
  expect(replay.headers.get('idempotent-replayed')).toBe('true');
  expect(replay.body.id).toBe(young.body.id);
});

/** The outbox rows of timeout messages (each order also has its `created` event row, which this test leaves alone). */
const timeouts = () => svc.db('outbox').where({ kind: 'order.timeout' });

test('when sent outbox rows pass their retention, then they are purged, two per batch, while a recently sent row stays', async () => {
  const product = (await makeProduct(svc, { category: 'general', stock: 100 })).id;
  const orders = await Promise.all(
    Array.from({ length: 5 }, () => makeOrder(svc, [{ productId: product, quantity: 1 }])),
  );
  const ids = orders.map((o) => o.id);
  await eventually(
    async () => (await timeouts().whereIn('order_id', ids).whereNotNull('sent_at')).length === 5,
    10_000,
    'every timeout message to be published',
  );
  // Four sent rows grow old; the fifth was sent just now. (Unsent rows have no sent_at, so no rule can match them.)
  await timeouts()
    .whereIn('order_id', ids.slice(0, 4))
    .update({ sent_at: new Date(Date.now() - 2 * HOUR) });

  await eventually(
    async () => (await timeouts().whereIn('order_id', ids.slice(0, 4))).length === 0,
    10_000,
    'the four old sent rows to be purged (two per batch)',
  );
  expect(await timeouts().where({ order_id: ids[4] })).toHaveLength(1);
});

test('when nothing has expired, then a purge round deletes nothing', async () => {
  const counts = await purgeAll({
    db: svc.db,
    now: () => new Date(),
    batchSize: 100,
    rules: [
      { table: 'outbox', column: 'sent_at', retainMs: 10 * HOUR },
      { table: 'idempotency_keys', column: 'created_at', retainMs: 10 * HOUR },
    ],
  });
  expect(counts).toEqual({ outbox: 0, idempotency_keys: 0 });
});
