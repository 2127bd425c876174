import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import amqp from 'amqplib';
import { EVENTS_EXCHANGE } from '../../src/domain/order-event-types';
import { createScratch, log, seedProducts, waitFor, type Scratch } from '../support';
import { createFigures, createFor, drainWith, median } from './holds';

/** Create and close rates with order events on (one consumer queue bound, one webhook URL) and off, in the same run. */
export interface EventsResult {
  seconds: number;
  connections: number;
  backlog: number;
  /** Rounds of each measurement, alternating off and on; the figures are medians. */
  rounds: number;
  /** Median orders/s and p99 latency with events off and on. */
  create: Record<'off' | 'on', ReturnType<typeof createFigures>>;
  close: {
    offPerSecond: number;
    onPerSecond: number;
    onEventsPerSecond: number;
    /** Closed events delivered to the webhook receiver per second, from the first close to the last delivery. */
    onWebhooksPerSecond: number;
  };
}

const OFF = { ORDER_EVENTS: 'false' };

/**
 * A local webhook receiver answering 204 at once, as a healthy consumer would: it counts deliveries and the time of
 * the last one. It runs in the bench's own process, apart from the service under test.
 */
interface Receiver {
  url: string;
  delivered: () => number;
  lastAt: () => number;
  reset: () => void;
  close: () => Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  let delivered = 0;
  let lastAt = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      delivered++;
      lastAt = Date.now();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/orders`,
    delivered: () => delivered,
    lastAt: () => lastAt,
    reset: () => {
      delivered = 0;
      lastAt = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Events on, with one webhook URL pointing at `receiver`. */
const onWith = (receiver: Receiver) => ({
  ORDER_EVENTS: 'true',
  WEBHOOK_URLS: receiver.url,
  WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
});

/** A quorum queue bound to every event type, as one consuming team would have (nobody reads it during the run). */
async function bindConsumerQueue(scratch: Scratch): Promise<void> {
  const conn = await amqp.connect(scratch.amqpUrl);
  const ch = await conn.createChannel();
  await ch.assertQueue('order.events.bench', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue('order.events.bench', EVENTS_EXCHANGE, '#');
  await conn.close();
}

/** Waits until every event row is sent; returns events per second from the first close to the last confirm. */
async function eventsSent(scratch: Scratch): Promise<number> {
  await waitFor(
    'events sent',
    async () => {
      const [rows] = await scratch.pool.query(
        'SELECT COUNT(*) AS n FROM outbox WHERE sequence IS NOT NULL AND sent_at IS NULL',
      );
      const unsent = Number((rows as { n: number }[])[0]!.n);
      return { done: unsent === 0, progress: `${unsent} events unsent` };
    },
    600_000,
  );
  const [span] = await scratch.pool.query(
    `SELECT COUNT(*) AS n, TIMESTAMPDIFF(MICROSECOND, (SELECT MIN(closed_at) FROM orders), MAX(sent_at)) AS us
       FROM outbox WHERE sequence IS NOT NULL`,
  );
  const { n, us } = (span as { n: number; us: number }[])[0]!;
  return Number(n) / Math.max(Number(us) / 1e6, 0.001);
}

/** Waits until the receiver got one delivery per closed order; returns deliveries/s from the first close on. */
async function webhooksDelivered(scratch: Scratch, receiver: Receiver, expected: number): Promise<number> {
  await waitFor(
    'webhooks delivered',
    async () => ({
      done: receiver.delivered() >= expected,
      progress: `${receiver.delivered()}/${expected} delivered`,
    }),
    600_000,
  );
  const [rows] = await scratch.pool.query('SELECT UNIX_TIMESTAMP(MIN(closed_at)) * 1000 AS first FROM orders');
  const first = Number((rows as { first: number }[])[0]!.first);
  return receiver.delivered() / Math.max((receiver.lastAt() - first) / 1000, 0.001);
}

/**
 * Events: POST /orders and a backlog drain with events on (every order's created and closed event written in its
 * transaction and published to order.events, one queue bound, and every event POSTed to one local webhook receiver)
 * next to the same with ORDER_EVENTS=false, in alternating rounds of the same run; medians. The issue allows events
 * to cost at most 20% of either rate.
 */
export async function eventsRates(
  seconds: number,
  backlog: number,
  rounds: number,
  connections = 32,
): Promise<EventsResult> {
  const scratches = { off: await createScratch(connections), on: await createScratch(connections) };
  const closes: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const eventRates: number[] = [];
  const webhookRates: number[] = [];
  const creates: Record<'off' | 'on', Awaited<ReturnType<typeof createFor>>[]> = { off: [], on: [] };
  const receiver = await startReceiver();
  const ON = onWith(receiver);
  try {
    await seedProducts(scratches.off.pool, 'general');
    await seedProducts(scratches.on.pool, 'general');
    await bindConsumerQueue(scratches.on);
    const next = { i: 0 };
    for (let round = 1; round <= rounds; round++) {
      log(`events: round ${round}/${rounds}: create with events off, ${connections} connections, ${seconds} s`);
      creates.off.push(await createFor(scratches.off, seconds, connections, false, next, OFF));
      log(`events: round ${round}/${rounds}: create with events on`);
      creates.on.push(await createFor(scratches.on, seconds, connections, false, next, ON));
    }
    for (let round = 1; round <= rounds; round++) {
      log(`events: round ${round}/${rounds}: drain ${backlog} due orders with events off, then on`);
      closes.off.push((await drainWith(backlog, { holds: false, env: OFF })).closesPerSecond);
      receiver.reset();
      const on = await drainWith(backlog, {
        holds: false,
        env: ON,
        prepare: bindConsumerQueue,
        after: async (scratch) => {
          eventRates.push(await eventsSent(scratch));
          webhookRates.push(await webhooksDelivered(scratch, receiver, backlog));
        },
      });
      closes.on.push(on.closesPerSecond);
    }
  } finally {
    await scratches.off.destroy();
    await scratches.on.destroy();
    await receiver.close();
  }
  return {
    seconds,
    connections,
    backlog,
    rounds,
    create: { off: createFigures(creates.off), on: createFigures(creates.on) },
    close: {
      offPerSecond: median(closes.off),
      onPerSecond: median(closes.on),
      onEventsPerSecond: median(eventRates),
      onWebhooksPerSecond: median(webhookRates),
    },
  };
}
