import { TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { queueDepth } from '../support/amqp';
import { eventually, sleep } from '../support/scratch';
import { countScenario, report } from './support/invariants';
import {
  closeSources,
  createOrders,
  createProduct,
  metric,
  note,
  statusCounts,
  waitUntilSettled,
  ScratchRun,
} from './support/traffic';

const ORDERS = 2000;

const run = new ScratchRun();
afterAll(() => run.cleanup());

test('the service killed with SIGKILL while closing a burst of 2,000 due orders, then restarted: every order closes exactly once, redeliveries are no-ops', async () => {
  const env = {
    // Long enough to create the 2,000 orders before the first deadline on a busy machine.
    ORDER_PAYMENT_TIMEOUTS: JSON.stringify({ default: '15m', burst: '30s' }),
  };
  const { AMQP_URL: amqpUrl } = await run.env();

  const first = await run.start(env);
  const db = run.db;
  const product = await createProduct(first.baseUrl, 'burst', ORDERS * 2);
  const { orders, failed } = await createOrders(first.baseUrl, product, ORDERS);
  expect(failed).toBe(0);
  const ids = orders.map((o) => o.id);
  // All 2,000 fall due at the same instant: the closer then works through them in full batches.
  const together = new Date(Math.max(...orders.map((o) => Date.parse(o.expiresAt))) + 300);
  await db('orders').whereIn('id', ids).update({ expires_at: together });
  expect(Date.now()).toBeLessThan(together.getTime() - 500);

  // None may have closed yet: creation must have finished well before the first deadline.
  expect((await statusCounts(db, ids)).CLOSED ?? 0).toBe(0);

  // Kill it the moment a full batch has committed (a tight poll, no sleep): that batch's acks are on their way,
  // other batches are mid-transaction. (The first few batches hold one order each: the first held timeouts
  // released at the deadline start a transaction at once; the rest pile up into full batches behind them.)
  const closedCount = async () =>
    Number((await db('orders').where({ status: 'CLOSED' }).count({ n: '*' }).first())?.n ?? 0);
  const pollUntil = together.getTime() + 30_000;
  let closedAtKill = 0;
  while (closedAtKill < 50) {
    if (Date.now() > pollUntil) throw new Error(`only ${closedAtKill} orders closed within 30 s of the deadline`);
    closedAtKill = await closedCount();
  }
  await first.kill('SIGKILL');
  const closedAfterKill = (await statusCounts(db, ids)).CLOSED ?? 0;
  expect(closedAfterKill).toBeLessThan(ORDERS);
  // With nothing consuming, what the killed process held goes back to order.timeout.
  await sleep(500);
  const waiting = await queueDepth(amqpUrl, TIMEOUT_QUEUE);

  const second = await run.start(env);
  await waitUntilSettled(db, ids, 30_000, 'every order to close after the restart');
  expect(await statusCounts(db, ids)).toEqual({ CLOSED: ORDERS });
  expect(await closeSources(db, ids)).toEqual({ timeout: ORDERS });
  // Every message the killed process had not acknowledged comes back; those whose order it had closed are no-ops.
  await eventually(async () => (await queueDepth(amqpUrl, TIMEOUT_QUEUE)) === 0, 10_000, 'order.timeout to drain');
  await sleep(500);
  const noOps = await metric(second, 'order_timeout_timeouts_skipped_total', 'status="CLOSED"');
  const closedBySecond = await metric(second, 'order_timeout_orders_closed_total', 'source="timeout"');
  expect(closedBySecond).toBe(ORDERS - closedAfterKill);
  const errors = second
    .output()
    .split('\n')
    .filter((l) => l.includes('"level":"error"'));
  expect(errors).toEqual([]);

  note(
    `process kill: ${closedAtKill} closed when the kill was sent, ${closedAfterKill} committed by the killed process, ${waiting} messages back in order.timeout, ${closedBySecond} closed after the restart, ${noOps} redeliveries of already-closed orders (no-ops)`,
  );
  report(await countScenario(db, 'service SIGKILLed mid-batch, restarted', ids));
  // Creating 2,000 orders and the 30 s window take most of a minute on a busy machine.
}, 150_000);
