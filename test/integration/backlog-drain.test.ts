import { TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { makeProduct, stockOf } from '../support/fixtures';
import { eventually, queueStats } from '../support/scratch';
import { startBeside, startTestService, type TestService } from '../support/service';

// The closer's second trigger: when timers arrive faster than its message batches close, it fires the oldest due
// timers straight from the database in large transactions (closer.drainBatchSize) on several lanes.

const ORDERS = 600;
const shared = { orderPaymentTimeouts: { default: '15m', short: '1s' }, delayLevels: '1s,2s' };

let api: TestService;
let closer: Awaited<ReturnType<typeof startBeside>> | undefined;

beforeAll(async () => {
  api = await startTestService({ ...shared, roles: 'api' });
});

afterAll(async () => {
  await closer?.stop();
  await api?.destroy();
});

/** Observations of the closer's batch-size histogram: all of them, and those of at most `le` orders. */
async function batchSizes(base: string, le: number): Promise<{ count: number; atMost: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    count: value(/^order_timeout_closer_batch_size_count (\d+)$/m),
    atMost: value(new RegExp(`^order_timeout_closer_batch_size_bucket\\{le="${le}"\\} (\\d+)$`, 'm')),
  };
}

test('when 600 due timeouts wait in order.timeout as a closer starts, then it drains them from the database in large batches: each order closed once, by its timeout, none early, stock back', async () => {
  const product = await makeProduct(api, { category: 'short', stock: ORDERS });
  const ids: string[] = [];
  for (let i = 0; i < ORDERS; i += 50) {
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        api.api('POST', '/orders', { customerId: `c-${i + j}`, items: [{ productId: product.id, quantity: 1 }] }),
      ),
    );
    for (const res of created) {
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
  }
  // No closer runs yet: the timeouts expire and wait in order.timeout, a backlog.
  await eventually(
    async () => {
      const q = await queueStats(api.vhost, TIMEOUT_QUEUE);
      return q?.messages === ORDERS ? true : undefined;
    },
    30_000,
    `${ORDERS} timeouts waiting in order.timeout`,
  );

  // Small message batches, one at a time: the drain's batches (up to 100) stand out in the histogram.
  closer = await startBeside(api, {
    ...shared,
    roles: 'closer',
    closer: { batchSize: 5, concurrency: 1, drainLanes: 2, drainBatchSize: 100 },
  });
  const base = closer.baseUrl;
  await eventually(
    async () => {
      const [row] = await api.db('orders').whereIn('id', ids).andWhere({ status: 'CLOSED' }).count({ n: '*' });
      return Number(row!.n) === ORDERS ? true : undefined;
    },
    60_000,
    `all ${ORDERS} orders closed`,
  );

  const closes = await api
    .db('order_events')
    .whereIn('order_id', ids)
    .andWhere({ to_status: 'CLOSED' })
    .select('order_id', 'source');
  expect(closes).toHaveLength(ORDERS);
  expect(new Set(closes.map((c) => String(c.order_id))).size).toBe(ORDERS);
  expect(new Set(closes.map((c) => c.source))).toEqual(new Set(['timeout']));
  const [early] = await api.db('orders').whereIn('id', ids).andWhereRaw('closed_at < expires_at').count({ n: '*' });
  expect(Number(early!.n)).toBe(0);
  expect(await stockOf(api, product.id)).toBe(ORDERS);

  const sizes = await batchSizes(base, 5);
  expect(sizes.count).toBeGreaterThan(0);
  expect(sizes.count - sizes.atMost).toBeGreaterThan(0); // some transaction closed more than a message batch holds

  // Every message is settled: acknowledged as already closed, none parked.
  await eventually(
    async () => {
      const q = await queueStats(api.vhost, TIMEOUT_QUEUE);
      return q?.messages === 0 ? true : undefined;
    },
    30_000,
    'order.timeout to be empty',
  );
  const parked = await queueStats(api.vhost, `${TIMEOUT_QUEUE}.parked`);
  expect(parked?.messages ?? 0).toBe(0);

  // The closed events, held back while the drain ran, all go out once it ended: one per order, each by the process
  // that wrote it (a relay that claimed a lapsed row would have counted an attempt).
  await eventually(
    async () => {
      const [row] = await api
        .db('outbox')
        .whereIn('order_id', ids)
        .andWhere({ kind: 'order.closed', attempts: 0 })
        .whereNotNull('sent_at')
        .count({ n: '*' });
      return Number(row!.n) === ORDERS ? true : undefined;
    },
    10_000,
    `${ORDERS} order.closed events published`,
  );
  // Held while the drain ran: only the events of the few message batches closed before it started went out before
  // the last close (published as each drain transaction committed, the first rounds' 200 would have).
  const [lastClose] = await api.db('orders').whereIn('id', ids).max({ at: 'closed_at' });
  const [sentBefore] = await api
    .db('outbox')
    .whereIn('order_id', ids)
    .andWhere({ kind: 'order.closed' })
    .andWhere('sent_at', '<', lastClose!.at as Date)
    .count({ n: '*' });
  expect(Number(sentBefore!.n)).toBeLessThan(100);
});
