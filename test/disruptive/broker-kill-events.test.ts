import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import { EVENTS_EXCHANGE } from '../../src/domain/order-event-types';
import { firstCopies, sequenceProblems, toReceived, type ReceivedEvent } from '../support/events';
import { makeProduct } from '../support/fixtures';
import { eventually } from '../support/scratch';
import { startTestService, type TestService } from '../support/service';
import { claimPrivateServers, type PrivateServers } from './support/private-servers';

// The broker that is killed is a private RabbitMQ node; the database is the shared one (nothing breaks it).
let servers: PrivateServers;
let svc: TestService;
let consumer: AmqpConnectionManager | undefined;

const ORDERS = 2_000;
const CREATORS = 8;
const QUEUE = 'order.events.test-consumer';

beforeAll(async () => {
  servers = await claimPrivateServers();
  await servers.broker.start();
  const { amqpUrl, managementUrl } = servers.broker;
  svc = await startTestService(
    { delayLevels: '1s,2s,5s', orderPaymentTimeouts: { default: '15m', short: '2s' }, sweeper: { interval: '5s' } },
    { amqpUrl, managementUrl },
  );
}, 120_000);
afterAll(async () => {
  await consumer?.close().catch(() => undefined);
  await svc?.destroy().catch(() => undefined);
  await servers?.release();
});

/**
 * Another team's consumer: a durable quorum queue bound to every event type, acknowledging each message after
 * recording it, reconnecting when the broker goes. Resolves once its queue is bound: an event published before
 * that has no queue to go to (a topic exchange drops what no binding routes).
 */
async function startConsumer(url: string, received: ReceivedEvent[]): Promise<AmqpConnectionManager> {
  const conn = connect([url], { reconnectTimeInSeconds: 0.5 });
  const channel = conn.createChannel({
    setup: async (ch: Channel) => {
      await ch.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await ch.bindQueue(QUEUE, EVENTS_EXCHANGE, '#');
      await ch.prefetch(500);
      await ch.consume(QUEUE, (msg) => {
        if (!msg) return;
        received.push(toReceived(msg));
        ch.ack(msg);
      });
    },
  });
  await channel.waitForConnect();
  return conn;
}

test("when the broker is killed while 2,000 orders are created and closed, then every event arrives at least once and each order's in commit order", async () => {
  const product = (await makeProduct(svc, { category: 'short', stock: 100_000 })).id;
  const received: ReceivedEvent[] = [];
  consumer = await startConsumer(svc.config.amqp.url, received);

  const created: string[] = [];
  let next = 0;
  const creators = Array.from({ length: CREATORS }, async () => {
    while (next < ORDERS) {
      next++;
      const res = await svc.api('POST', '/orders', { customerId: 'c', items: [{ productId: product, quantity: 1 }] });
      expect(res.status).toBe(201);
      created.push(res.body.id);
    }
  });
  // Killed a third of the way in, with timeouts in the delay queues, events in flight and orders closing.
  await eventually(async () => created.length >= ORDERS / 3, 60_000, 'a third of the orders');
  await servers.broker.kill();
  await eventually(async () => created.length >= ORDERS / 2, 60_000, 'orders created while the broker is down');
  await servers.broker.start(true);
  await Promise.all(creators);

  await eventually(
    async () =>
      (await svc.db('orders').whereIn('id', created).where({ status: 'CLOSED' }).count({ n: '*' }).first())?.n ==
      ORDERS,
    120_000,
    'every order to close',
  );
  const written = await svc.db('outbox').whereNotNull('sequence').pluck('message_id');
  expect(written.length).toBe(2 * ORDERS);
  await eventually(
    async () => new Set(received.map((e) => e.id)).size >= written.length,
    120_000,
    'every event at the consumer',
  ).catch(async (err: Error) => {
    // Where the missing ones are: still in the outbox (unsent, claimed or not), or sent but not received.
    const unsent = await svc.db('outbox').whereNotNull('sequence').whereNull('sent_at').count({ n: '*' }).first();
    const ids = new Set(received.map((e) => e.id));
    const missing = written.filter((id) => !ids.has(id));
    const sample = await svc.db('outbox').whereIn('message_id', missing.slice(0, 5));
    throw new Error(
      `${err.message}: ${missing.length} missing, ${String(unsent?.n)} unsent; e.g. ${JSON.stringify(sample)}`,
    );
  });
  const firsts = firstCopies(received);
  expect(new Set(firsts.map((e) => e.id))).toEqual(new Set(written));
  expect(sequenceProblems(firsts)).toEqual([]);
  for (const id of created)
    expect(firsts.filter((e) => e.orderId === id).map((e) => e.type)).toEqual(['order.created', 'order.closed']);
}, 300_000);
