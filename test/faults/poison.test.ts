import type { GetMessage } from 'amqplib';
import { PARKED_QUEUE, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY } from '../../src/messaging/topology';
import { publishRaw } from '../support/amqp';
import { runCli } from '../support/cli';
import { peekAll } from '../support/parked';
import { eventually, sleep } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { countScenario, report } from './support/invariants';
import {
  closeSources,
  createOrders,
  createProduct,
  note,
  statusCounts,
  waitUntilSettled,
  type CreatedOrder,
} from './support/traffic';

let svc: TestService | undefined;
afterAll(async () => {
  await svc?.destroy();
});

const TEN_MB = 10 * 1024 * 1024;

test('poison messages in order.timeout (not JSON, 10 MB, unknown orders, wrong types, a handler that throws) are all parked with a reason while normal orders keep closing', async () => {
  svc = await startTestService({
    delayLevels: '1s,2s',
    closer: { maxAttempts: 2 },
    orderPaymentTimeouts: { default: '15m', short: '3s' },
  });
  const s = svc;
  const url = s.config.amqp.url;
  const product = await createProduct(s.baseUrl, 'short', 5000);

  // The victim and 99 neighbours fall due at the same instant, so the victim shares a closing batch with healthy orders.
  const first = await createOrders(s.baseUrl, product, 100);
  expect(first.failed).toBe(0);
  const victim = first.orders[0]!.id;
  // One deadline for all 100: the closer holds them in process until it and closes them in one batch.
  const together = new Date(Math.max(...first.orders.map((o) => Date.parse(o.expiresAt))) + 300);
  await s
    .db('orders')
    .whereIn(
      'id',
      first.orders.map((o) => o.id),
    )
    .update({ expires_at: together });
  await s.db.raw(
    `CREATE TRIGGER fault_injected_close BEFORE UPDATE ON orders FOR EACH ROW
     IF NEW.id = ${Number(victim)} AND NEW.status = 'CLOSED' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF`,
  );

  const now = new Date().toISOString();
  const poison: { id: string; body: string | Buffer; reason: RegExp }[] = [
    { id: 'poison-not-json', body: 'this is not json {', reason: /not JSON/ },
    { id: 'poison-binary', body: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]), reason: /not JSON/ },
    { id: 'poison-empty', body: '', reason: /not JSON/ },
    { id: 'poison-10mb', body: Buffer.alloc(TEN_MB, 'x'), reason: /not JSON/ },
    {
      id: 'poison-10mb-json',
      body: JSON.stringify({ orderId: '9'.repeat(TEN_MB), expiresAt: now, attempt: 0 }),
      reason: /orderId/,
    },
    {
      id: 'poison-unknown-1',
      body: JSON.stringify({ orderId: '999999999', expiresAt: now, attempt: 0 }),
      reason: /unknown order 999999999/,
    },
    {
      id: 'poison-unknown-2',
      body: JSON.stringify({
        orderId: '999999998',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
        attempt: 0,
      }),
      reason: /unknown order 999999998/,
    },
    {
      id: 'poison-unknown-3',
      body: JSON.stringify({ orderId: '9223372036854775807', expiresAt: now, attempt: 3 }),
      reason: /unknown order 9223372036854775807/,
    },
    {
      id: 'poison-id-unsafe-number',
      body: JSON.stringify({ orderId: 2 ** 53, expiresAt: now, attempt: 0 }),
      reason: /orderId/,
    },
    {
      id: 'poison-date',
      body: JSON.stringify({ orderId: victim, expiresAt: 'yesterday', attempt: 0 }),
      reason: /expiresAt/,
    },
    {
      id: 'poison-attempt',
      body: JSON.stringify({ orderId: victim, expiresAt: now, attempt: '0' }),
      reason: /attempt/,
    },
    {
      id: 'poison-negative',
      body: JSON.stringify({ orderId: victim, expiresAt: now, attempt: -1 }),
      reason: /attempt/,
    },
    { id: 'poison-array', body: '[1,2,3]', reason: /body/ },
    { id: 'poison-null', body: 'null', reason: /body/ },
    {
      id: 'poison-sql',
      body: JSON.stringify({ orderId: '1; DROP TABLE orders; --', expiresAt: now, attempt: 0 }),
      reason: /orderId/,
    },
  ];

  // Healthy traffic keeps coming while the poison goes in: four more waves of 100 orders, a second apart.
  const waves: Promise<{ orders: CreatedOrder[]; failed: number }>[] = [];
  const traffic = (async () => {
    for (let w = 0; w < 4; w++) {
      waves.push(createOrders(s.baseUrl, product, 100));
      await sleep(1000);
    }
  })();
  for (const p of poison) {
    await publishRaw(url, TIMEOUT_EXCHANGE, TIMEOUT_ROUTING_KEY, p.body, {
      messageId: p.id,
      contentType: 'application/json',
    });
  }
  await traffic;
  const later = await Promise.all(waves);
  expect(later.map((w) => w.failed)).toEqual([0, 0, 0, 0]);
  const healthy = [...first.orders.slice(1), ...later.flatMap((w) => w.orders)];
  const healthyIds = healthy.map((o) => o.id);

  // Every healthy order closes on its own, the victim's neighbours included (on failure: what got parked instead).
  await waitUntilSettled(s.db, healthyIds, 20_000, 'every healthy order to close').catch(async (err) => {
    const stuck = (await peekAll(url, PARKED_QUEUE)).map((m) => String(m.properties.headers?.['x-park-reason']));
    throw new Error(
      `${(err as Error).message}: ${JSON.stringify(await statusCounts(s.db, healthyIds))}; parked: ${JSON.stringify(
        stuck
          .filter((r) => !/^invalid|^unknown/.test(r))
          .slice(0, 3)
          .map((r) => r.slice(0, 200)),
      )} (${stuck.length} in all)`,
    );
  });
  expect(await statusCounts(s.db, healthyIds)).toEqual({ CLOSED: healthy.length });

  // The victim's timeout backs off through 1s and 2s and is parked; everything else is parked at once.
  const expected = poison.length + 1;
  const parked = await eventually(
    async () => {
      const all = await peekAll(url, PARKED_QUEUE);
      return all.length >= expected ? all : undefined;
    },
    20_000,
    `${expected} parked messages`,
  );
  const reasonOf = (m: GetMessage) => String(m.properties.headers?.['x-park-reason'] ?? '');
  const byId = new Map(parked.map((m) => [String(m.properties.messageId), m]));
  for (const p of poison) {
    const m = byId.get(p.id);
    expect({ id: p.id, reason: m && reasonOf(m) }).toEqual({ id: p.id, reason: expect.stringMatching(p.reason) });
    expect(Date.parse(String(m!.properties.headers?.['x-parked-at']))).not.toBeNaN();
  }
  expect(byId.get('poison-10mb')!.content.length).toBe(TEN_MB);
  const victimParked = parked.filter((m) => /injected/.test(reasonOf(m)));
  expect(victimParked.map((m) => [JSON.parse(m.content.toString()).orderId, reasonOf(m)])).toEqual([
    [victim, expect.stringMatching(/^closing failed: [\s\S]*injected[\s\S]*gave up after 2 attempts/)],
  ]);
  expect(parked).toHaveLength(expected);
  expect((await s.db('orders').where({ id: victim }).first()).status).toBe('PENDING_PAYMENT');

  // The operator fixes the cause and replays the victim's message: it closes, once.
  await s.db.raw('DROP TRIGGER fault_injected_close');
  const replay = await runCli(['dead-letters', 'replay', '--reason', 'injected'], {
    AMQP_URL: url,
    MYSQL_URL: s.config.mysql.url,
  });
  expect({ code: replay.code, stdout: replay.stdout }).toEqual({
    code: 0,
    stdout: expect.stringContaining('moved 1,'),
  });
  await waitUntilSettled(s.db, [victim], 10_000, 'the victim to close after the replay');
  // The rest stay parked for a human.
  expect((await peekAll(url, PARKED_QUEUE)).map((m) => String(m.properties.messageId)).sort()).toEqual(
    poison.map((p) => p.id).sort(),
  );

  const ids = [victim, ...healthyIds];
  note(
    `poison: ${poison.length} poison messages + 1 handler failure parked; ${healthy.length} healthy orders closed meanwhile; close sources ${JSON.stringify(await closeSources(s.db, ids))}`,
  );
  report(await countScenario(s.db, 'poison messages (15 poison + 1 throwing handler)', ids));
});
