import { PARKED_QUEUE, TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { queueDepth, withChannel } from '../support/amqp';
import { runCli, spawnCli } from '../support/cli';
import { metricValue } from '../support/fixtures';
import { peekAll } from '../support/parked';
import { eventually, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { countScenario, report } from './support/invariants';
import { closeSources, createOrders, createProduct, note, statusCounts, waitUntilSettled } from './support/traffic';

let svc: TestService | undefined;
afterEach(async () => {
  await svc?.destroy();
  svc = undefined;
});

/**
 * A service with `n` overdue pending orders whose timeouts were parked by the closer itself: a trigger makes the
 * database refuse every close, each timeout backs off once and is parked ("closing failed: … injected"); then the
 * trigger goes. Nothing but a replay will close these orders now (the sweeper runs hourly in tests).
 */
async function parkedBacklog(
  n: number,
): Promise<{ s: TestService; ids: string[]; env: { AMQP_URL: string; MYSQL_URL: string } }> {
  svc = await startTestService({
    delayLevels: '1s,2s',
    closer: { maxAttempts: 1 },
    orderPaymentTimeouts: { default: '15m', short: '2s' },
  });
  const s = svc;
  await s.db.raw(
    `CREATE TRIGGER fault_refuse_close BEFORE UPDATE ON orders FOR EACH ROW
     IF NEW.status = 'CLOSED' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF`,
  );
  const product = await createProduct(s.baseUrl, 'short', n * 2);
  const { orders, failed } = await createOrders(s.baseUrl, product, n);
  expect(failed).toBe(0);
  const ids = orders.map((o) => o.id);
  await eventually(
    async () => (await queueDepth(s.config.amqp.url, PARKED_QUEUE)) >= n,
    60_000,
    `${n} timeouts to be parked`,
  );
  await s.db.raw('DROP TRIGGER fault_refuse_close');
  await timeoutQueueDrained(s);
  expect(await queueDepth(s.config.amqp.url, PARKED_QUEUE)).toBe(n);
  expect(await statusCounts(s.db, ids)).toEqual({ PENDING_PAYMENT: n });
  return { s, ids, env: { AMQP_URL: s.config.amqp.url, MYSQL_URL: s.config.mysql.url } };
}

const skippedClosed = (s: TestService) => metricValue(s, 'order_timeout_timeouts_skipped_total', { status: 'CLOSED' });

/** Waits until the closer has taken everything off order.timeout and nothing is in flight. */
async function timeoutQueueDrained(s: TestService): Promise<void> {
  await eventually(
    async () => (await queueDepth(s.config.amqp.url, TIMEOUT_QUEUE)) === 0,
    20_000,
    'order.timeout to drain',
  );
  await sleep(500);
}

test('replay run twice over the same parked messages (two at once, then the same messages parked and replayed again): every order closes once, nothing is left parked', async () => {
  const n = 500;
  const { s, ids, env } = await parkedBacklog(n);
  // Keep a copy of what is parked, to park the very same messages again later.
  const parkedCopy = await peekAll(env.AMQP_URL, PARKED_QUEUE);

  // Two operators replay the same parked queue at the same moment.
  const [a, b] = await Promise.all([
    runCli(['dead-letters', 'replay', '--json'], env),
    runCli(['dead-letters', 'replay', '--json'], env),
  ]);
  expect([a.code, b.code]).toEqual([0, 0]);
  const movedA = JSON.parse(a.stdout).moved as number;
  const movedB = JSON.parse(b.stdout).moved as number;
  expect(movedA + movedB).toBe(n);
  await waitUntilSettled(s.db, ids, 20_000);
  await timeoutQueueDrained(s);
  expect(await queueDepth(env.AMQP_URL, PARKED_QUEUE)).toBe(0);

  // The very same messages turn up parked again (a copy kept, a replay killed between publish and ack) and are
  // replayed again: the closer finds every order closed and does nothing.
  const skippedBefore = await skippedClosed(s);
  await withChannel(env.AMQP_URL, async (ch) => {
    for (const m of parkedCopy) ch.sendToQueue(PARKED_QUEUE, m.content, m.properties);
    await ch.waitForConfirms();
  });
  const again = await runCli(['dead-letters', 'replay'], env);
  expect({ code: again.code, stdout: again.stdout }).toEqual({
    code: 0,
    stdout: `moved ${n}, skipped 0, failed 0 (of ${n} in ${PARKED_QUEUE})\n`,
  });
  await eventually(
    async () => (await skippedClosed(s)) - skippedBefore >= n,
    20_000,
    'the second replay to be handled as no-ops',
  );
  await timeoutQueueDrained(s);
  expect(await queueDepth(env.AMQP_URL, PARKED_QUEUE)).toBe(0);
  expect(await statusCounts(s.db, ids)).toEqual({ CLOSED: n });
  expect(await closeSources(s.db, ids)).toEqual({ timeout: n });

  note(
    `replay twice: concurrent replays moved ${movedA} + ${movedB}; second replay of the same ${n} messages: ${(await skippedClosed(s)) - skippedBefore} no-ops`,
  );
  report(await countScenario(s.db, 'replay run twice over the same parked messages', ids));
});

test('a replay killed with SIGKILL half way loses no message: the rest stay parked, a second replay moves them, every order closes once', async () => {
  const n = 2000;
  const { s, ids, env } = await parkedBacklog(n);
  const skippedBefore = await skippedClosed(s);

  const replay = spawnCli(['dead-letters', 'replay'], env);
  // Kill it once a quarter of the orders have closed through moved messages: well into the move, not done.
  const closedAtKill = await eventually(
    async () => {
      const closed = (await statusCounts(s.db, ids)).CLOSED ?? 0;
      return closed >= n / 4 ? closed : undefined;
    },
    30_000,
    'the replay to move a quarter of the messages',
  );
  replay.child.kill('SIGKILL');
  const killed = await replay.result;
  expect(killed.signal).toBe('SIGKILL');
  expect(closedAtKill).toBeLessThan(n);

  // Whatever the killed replay had not acknowledged went back to the parked queue.
  await timeoutQueueDrained(s);
  const left = await queueDepth(env.AMQP_URL, PARKED_QUEUE);
  const closedAfterKill = (await statusCounts(s.db, ids)).CLOSED ?? 0;
  expect(left).toBeGreaterThan(0);
  // Each order is closed (its copy went through) or its message is still parked (or both): none vanished.
  expect(closedAfterKill + left).toBeGreaterThanOrEqual(n);

  const second = await runCli(['dead-letters', 'replay', '--json'], env);
  expect(second.code).toBe(0);
  const moved = JSON.parse(second.stdout).moved as number;
  expect(moved).toBe(left);
  await waitUntilSettled(s.db, ids, 20_000);
  await timeoutQueueDrained(s);
  expect(await queueDepth(env.AMQP_URL, PARKED_QUEUE)).toBe(0);
  expect(await statusCounts(s.db, ids)).toEqual({ CLOSED: n });
  expect(await closeSources(s.db, ids)).toEqual({ timeout: n });

  // Messages both moved and returned (killed between confirm and ack) were replayed twice: harmless no-ops.
  const duplicates = (await skippedClosed(s)) - skippedBefore;
  note(
    `replay killed: ${closedAtKill} closed at the kill, ${closedAfterKill} once settled, ${left} left parked and moved by the second replay, ${duplicates} delivered twice (no-ops)`,
  );
  report(await countScenario(s.db, 'replay killed half way (SIGKILL), then replayed', ids));
});
