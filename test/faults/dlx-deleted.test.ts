import type { AppConfig } from '../../src/config';
import { startService, type ServiceHandle } from '../../src/main';
import { TIMEOUT_EXCHANGE, TIMEOUT_QUEUE } from '../../src/messaging/topology';
import { queueDepth } from '../support/amqp';
import { runCli } from '../support/cli';
import { deleteVhost, dropDatabase, eventually, management, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { countScenario, report } from './support/invariants';
import {
  closeSources,
  createOrders,
  createProduct,
  note,
  queueInfo,
  statusCounts,
  waitUntilSettled,
} from './support/traffic';

const ORDERS = 300;
const DELAY_QUEUES = ['order.delay.1s', 'order.delay.2s', 'order.delay.5s'];

let svc: TestService | undefined;
let restored: ServiceHandle | undefined;
afterAll(async () => {
  await svc?.stop();
  await restored?.stop();
  if (svc) {
    await dropDatabase(svc.config.mysql.url);
    await deleteVhost(svc.vhost);
  }
});

/**
 * Messages the delay queues hold, in all (`messages`) and of those held for dead-lettering (`dlx`: quorum queues
 * count them apart), from the management API, whose figures lag by up to 5 s.
 */
async function held(vhost: string): Promise<{ messages: number; dlx: number }> {
  const queues = await Promise.all(DELAY_QUEUES.map((q) => queueInfo(vhost, q)));
  return {
    messages: queues.reduce((n, q) => n + Number(q?.messages ?? 0), 0),
    dlx: queues.reduce((n, q) => n + Number(q?.messages_dlx ?? 0), 0),
  };
}

test('the dead-letter exchange deleted while 300 timeouts wait in the delay queue: nothing is dropped, topology check names it, and once restored every order closes', async () => {
  // Windows of 7 s: every timeout waits in a delay queue (order.delay.5s, or 2s if published late) for seconds.
  // The sweeper stays out of the way (hourly in tests) until the exchange is restored.
  svc = await startTestService({ orderPaymentTimeouts: { default: '15m', dlx: '7s' } });
  const s = svc;
  const env = { AMQP_URL: s.config.amqp.url, MYSQL_URL: s.config.mysql.url };
  const product = await createProduct(s.baseUrl, 'dlx', ORDERS * 2);
  const { orders, failed } = await createOrders(s.baseUrl, product, ORDERS);
  expect(failed).toBe(0);
  const ids = orders.map((o) => o.id);
  const firstDeadline = Math.min(...orders.map((o) => Date.parse(o.expiresAt)));
  const lastDeadline = Math.max(...orders.map((o) => Date.parse(o.expiresAt)));

  // Every 201 is out before its publish is confirmed: wait until the outbox has handed all 300 to the broker.
  await eventually(
    async () => {
      const row = await s.db('outbox').whereNull('sent_at').count({ n: '*' }).first();
      return Number(row?.n) === 0 ? true : undefined;
    },
    5_000,
    'every timeout to be published',
  );

  // The fault: someone deletes the exchange by hand, before the first timeout is due.
  await management(`/exchanges/${encodeURIComponent(s.vhost)}/${encodeURIComponent(TIMEOUT_EXCHANGE)}`, {
    method: 'DELETE',
  });
  expect(Date.now()).toBeLessThan(firstDeadline - 500);
  const waiting = await Promise.all(DELAY_QUEUES.map((q) => queueDepth(s.config.amqp.url, q)));
  expect(waiting.reduce((a, b) => a + b, 0)).toBe(ORDERS);

  // The TTLs run out with nowhere to dead-letter to: at-least-once dead-lettering keeps every message.
  // (The management API's figures lag by up to 5 s.)
  await sleep(Math.max(0, lastDeadline - Date.now()) + 1_000);
  const whileDeleted = await eventually(
    async () => {
      const h = await held(s.vhost);
      return h.dlx === ORDERS ? h : undefined;
    },
    15_000,
    `all ${ORDERS} expired messages to be held for dead-lettering`,
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await held(s.vhost))}`);
  });
  expect(whileDeleted.messages).toBe(ORDERS);
  expect(await statusCounts(s.db, ids)).toEqual({ PENDING_PAYMENT: ORDERS });
  expect(Number((await queueInfo(s.vhost, TIMEOUT_QUEUE))?.messages ?? -1)).toBe(0);

  // topology check names the missing exchange (and the binding that went with it).
  const check = await runCli(['topology', 'check'], env);
  expect(check.code).toBe(1);
  expect(check.stdout).toContain(`exchange ${TIMEOUT_EXCHANGE}: missing`);
  expect(check.stdout).toContain(`binding ${TIMEOUT_EXCHANGE} -> ${TIMEOUT_QUEUE} (order.timeout): missing`);

  // Restore: restart the service, which declares the topology again; its sweeper runs every second.
  await s.stop();
  const config: AppConfig = { ...s.config, sweeper: { ...s.config.sweeper, interval: 1_000, grace: 1_000 } };
  restored = await startService(config);
  const after = await runCli(['topology', 'check'], env);
  expect({ code: after.code, stdout: after.stdout }).toEqual({
    code: 0,
    stdout: expect.stringContaining('topology matches the code'),
  });

  // Every order closes: by the sweeper, or by the closer should RabbitMQ hand the held messages on first
  // (3.10 retries held dead-letters only every ~3 minutes).
  await waitUntilSettled(restored.db, ids, 20_000, 'every order to close after the restore');
  expect(await statusCounts(restored.db, ids)).toEqual({ CLOSED: ORDERS });
  const sources = await closeSources(restored.db, ids);
  expect((sources.sweeper ?? 0) + (sources.timeout ?? 0)).toBe(ORDERS);
  // Still nothing dropped: each message is either still held, or was handed on and handled by the closer (closing
  // its order, or finding it closed already).
  const handled = async () => {
    const text = await (await fetch(`http://127.0.0.1:${restored!.port}/metrics`)).text();
    const sum = (prefix: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    return (
      sum('order_timeout_timeouts_skipped_total{') + sum('order_timeout_orders_closed_total{') - (sources.sweeper ?? 0)
    );
  };
  const stillHeld = await eventually(
    async () => {
      const h = await held(s.vhost);
      return h.dlx + (await handled()) >= ORDERS ? h : undefined;
    },
    15_000,
    'every message to be held or handled',
  );
  note(
    `DLX deleted: ${whileDeleted.messages} messages held in the delay queues while it was gone (${whileDeleted.dlx} awaiting dead-lettering); after the restore closed by sweeper ${sources.sweeper ?? 0}, by closer ${sources.timeout ?? 0}; ${stillHeld.dlx} still held at the end (RabbitMQ hands them on later; the closer will find the orders closed)`,
  );
  report(await countScenario(restored.db, 'dead-letter exchange deleted, then restored', ids));
});
